//! The step log of an OAuth client test, with plain explanations of the errors people meet.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// It worked.
    Ok,
    /// It failed; later steps did not run.
    Failed,
}

/// One step: what was sent, what came back (secrets redacted) and what an error means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// `authorize`, `redirect`, `code_exchange` or `token_check`.
    pub name: String,
    /// Human title.
    pub title: String,
    /// Outcome.
    pub status: StepStatus,
    /// HTTP status of the step's request, when it made one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub http_status: Option<u16>,
    /// What was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub request: Option<Value>,
    /// What came back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub response: Option<Value>,
    /// What the error means and what to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub explanation: Option<String>,
}

impl Step {
    fn new(name: &str, title: &str, status: StepStatus) -> Step {
        Step {
            name: name.into(),
            title: title.into(),
            status,
            http_status: None,
            request: None,
            response: None,
            explanation: None,
        }
    }

    /// A step that worked.
    pub fn ok(name: &str, title: &str) -> Step {
        Step::new(name, title, StepStatus::Ok)
    }

    /// A step that failed.
    pub fn failed(name: &str, title: &str) -> Step {
        Step::new(name, title, StepStatus::Failed)
    }

    /// Sets what was sent.
    pub fn request(mut self, request: Value) -> Step {
        self.request = Some(request);
        self
    }

    /// Sets what came back.
    pub fn response(mut self, response: Value) -> Step {
        self.response = Some(response);
        self
    }

    /// Sets the HTTP status.
    pub fn status(mut self, status: u16) -> Step {
        self.http_status = Some(status);
        self
    }

    /// Sets the explanation.
    pub fn explain(mut self, explanation: Option<&str>) -> Step {
        self.explanation = explanation.map(str::to_owned);
        self
    }
}

/// Every step of one test.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepLog {
    /// In order.
    pub steps: Vec<Step>,
}

impl StepLog {
    /// Appends a step.
    pub fn push(&mut self, step: Step) {
        self.steps.push(step);
    }
}

/// A plain explanation of an OAuth error string (or `Unauthorized` for a 401 from the API).
pub fn explain(error: &str) -> Option<&'static str> {
    Some(match error {
        "invalid_client" | "BAD_CLIENT_SECRET" | "bad_client_secret" => {
            "The provider did not accept the client id or client secret. Copy the secret again from the \
             provider's developer console (it must belong to this client id, with no spaces around it), \
             and check the client authentication method the provider expects."
        }
        "invalid_grant" => {
            "The provider refused the authorization code: it expired or was already used, or the redirect \
             URL registered at the provider is not exactly the one shown on this page."
        }
        "unauthorized_client" => {
            "This client is not allowed to use the authorization code flow: enable it (and refresh tokens) \
             in the provider's developer console."
        }
        "invalid_scope" => "One of the requested scopes is unknown to the provider or not allowed for this client.",
        "access_denied" => "The consent screen was declined, so no code was issued. Run the test again and approve.",
        "redirect_uri_mismatch" | "invalid_redirect_uri" => {
            "The redirect URL registered at the provider differs from the one shown on this page."
        }
        "Unauthorized" => {
            "The provider issued a token but its API refused it (401 Unauthorized): the scopes probably do not \
             cover the endpoint the check uses, or the app is not yet approved to call that API."
        }
        _ => return None,
    })
}
