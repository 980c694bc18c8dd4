//! `actions/create-user.ts`.

use crate::helpers::get_subdomain::get_subdomain;
use crate::models::{CreateUser, CreateUserRole, User, actions};
use nango::{NangoAction, Result};
use serde::Deserialize;

/// The created user, as Zendesk returns it (`types.ts`: `ZendeskUser`, the fields used).
#[derive(Debug, Deserialize)]
struct ZendeskUser {
    id: u64,
    name: String,
    email: String,
}

#[derive(Debug, Deserialize)]
struct Created {
    user: ZendeskUser,
}

#[nango::nango_action(path = "../../../shared/reference/templates/zendesk/nango.yaml", models = crate::models)]
pub async fn create_user(nango: &mut NangoAction<actions::CreateUser>, input: CreateUser) -> Result<User> {
    // (The input is checked against its model before the function runs: Nango's
    // `zodValidateInput`.)
    let subdomain = get_subdomain(nango).unwrap_or_default();

    let data = serde_json::json!({
        "user": {
            "name": format!("{} {}", input.first_name, input.last_name),
            "email": input.email,
            "role": input.role.unwrap_or(CreateUserRole::Agent)
        }
    });

    // https://developer.zendesk.com/api-reference/ticketing/users/users/#create-user
    let response: Created = nango
        .post("/api/v2/users")
        .base_url(format!("https://{subdomain}.zendesk.com"))
        .retries(3)
        .json(&data)
        .send_json()
        .await?;

    let data_response = response.user;
    let mut name = data_response.name.split(' ');

    let user = User {
        id: data_response.id.to_string(),
        first_name: name.next().unwrap_or_default().to_owned(),
        last_name: name.next().unwrap_or_default().to_owned(),
        email: data_response.email,
    };

    Ok(user)
}
