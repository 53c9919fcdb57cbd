use axum::response::{IntoResponse, Response};

use super::{BoxError, BudgetExhausted, CircuitOpen, Elapsed, Overloaded, RateLimited, Rejection};

/// An error handler for axum's `HandleErrorLayer`: local rejections map to
/// 503 / 429 / 504 with `Retry-After` and a JSON body, anything else to 500.
///
/// ```
/// use axum::{Router, routing::get, error_handling::HandleErrorLayer};
/// use tower::ServiceBuilder;
///
/// let app: Router = Router::new()
///     .route("/", get(|| async { "ok" }))
///     .layer(
///         ServiceBuilder::new()
///             .layer(HandleErrorLayer::new(platform_core::error::handle_error))
///             .timeout(std::time::Duration::from_secs(5)),
///     );
/// ```
pub async fn handle_error(err: BoxError) -> Response {
    super::error_response(&*err).into_response()
}

macro_rules! into_response {
    ($($ty:ident),*) => {$(
        impl IntoResponse for $ty {
            fn into_response(self) -> Response {
                Rejection::$ty(&self).to_http_response().into_response()
            }
        }
    )*};
}

into_response!(CircuitOpen, RateLimited, Overloaded, Elapsed, BudgetExhausted);
