//! MLflow's error shape, `{"error_code": ..., "message": ...}`, which the
//! client turns into an `MlflowException` with that code: registry errors
//! take their code and status from the one table (`ErrorKind`), errors of
//! the API itself (a bad request, an unknown endpoint) their own.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use registry_core::RegistryError;
use serde_json::json;

/// A failed request: MLflow's error code, the HTTP status, and a message
/// that says what was wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// A request that is malformed or names something in a wrong form.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", message)
    }

    pub fn exists(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "RESOURCE_ALREADY_EXISTS", message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", message)
    }

    pub fn read_only() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "this server was started with --read-only: it refuses every write (start `registry serve` without it to log and register models)",
        )
    }

    pub fn endpoint_not_found(method: &str, path: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "ENDPOINT_NOT_FOUND",
            format!(
                "{method} {path} is not an endpoint of `registry serve`: it implements the MLflow REST API that mlflow's client uses to log, register, promote and load models (see docs/MLFLOW.md for the list)"
            ),
        )
    }

    /// A failure of the server's own machinery (a worker that died).
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", message)
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> ApiError {
        let kind = e.kind();
        let status = StatusCode::from_u16(kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError::new(status, kind.mlflow_code(), e.to_string())
    }
}

impl From<registry_core::store::StoreError> for ApiError {
    fn from(e: registry_core::store::StoreError) -> ApiError {
        RegistryError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error_code": self.code, "message": self.message});
        (self.status, axum::Json(body)).into_response()
    }
}
