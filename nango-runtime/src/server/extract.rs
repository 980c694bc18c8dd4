//! The extractors of request bodies every route that takes one uses: [`RawBody`] (the bytes)
//! and [`Body`] (JSON into a type). In a module of their own so that the handler modules and the
//! route table (`api.rs`) all import them from here, and imports go one way: the route table
//! imports the handlers, never the other way round.

use super::ApiError;
use axum::http::StatusCode;

/// A request's whole body, as bytes: one that does not arrive within the server's body timeout
/// is a 408 `request_timeout`, one that cannot be read otherwise a 400. Every route that reads a
/// body reads it through this (or [`Body`]), so the timeout is answered the same everywhere.
pub(super) struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(c) = cause {
                if let Some(late) = c.downcast_ref::<super::BodyTimedOut>() {
                    return ApiError::new(StatusCode::REQUEST_TIMEOUT, "request_timeout", late.to_string());
                }
                cause = c.source();
            }
            ApiError::bad_request("invalid_body", format!("cannot read the body: {e}"))
        })?;
        Ok(RawBody(bytes))
    }
}

/// A JSON object body whose errors are ours: 400 with the field and position, not axum's text.
/// Every body of the API is an object; another JSON value is refused before it is read into
/// the type (serde would otherwise take an array for a struct, field by field).
pub(super) struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        if bytes.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| *b != b'{') {
            return Err(ApiError::bad_request("invalid_body", "the body must be a JSON object"));
        }
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(&mut de).map(Body).map_err(|e| {
            let path = e.path().to_string();
            let at = if path == "." { String::new() } else { format!(" at `{path}`") };
            ApiError::bad_request("invalid_body", format!("invalid JSON body{at}: {}", e.inner()))
        })
    }
}
