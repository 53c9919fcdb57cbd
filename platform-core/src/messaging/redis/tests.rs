//! Unit tests against a real Redis (skipped without `PLATFORM_TEST_REDIS_URL`).
