//! [`task_stream`]: a stream fed by a background task, stopping the task when dropped.

use std::future::Future;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A stream fed by a task running `run`; dropping the stream stops the task.
pub(crate) fn task_stream<T, F>(run: impl FnOnce(mpsc::Sender<T>) -> F) -> BoxStream<'static, T>
where
    T: Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel(16);
    let guard = AbortOnDrop(tokio::spawn(run(tx)));
    futures_util::stream::poll_fn(move |cx| {
        let _keep = &guard;
        rx.poll_recv(cx)
    })
    .boxed()
}

/// Stops a task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
