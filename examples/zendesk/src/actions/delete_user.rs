//! `actions/delete-user.ts`.

use crate::helpers::get_subdomain::get_subdomain;
use crate::models::{IdEntity, SuccessResponse, actions::DeleteUser};
use nango::{ActionError, NangoAction, NangoScript, Result};

#[nango::nango_action(path = "../../../shared/reference/templates/zendesk/nango.yaml", models = crate::models)]
pub async fn delete_user(nango: &mut NangoAction<DeleteUser>, input: IdEntity) -> Result<SuccessResponse> {
    if input.id.is_empty() {
        return Err(ActionError::message("Id is required to delete a user").into());
    }

    let subdomain = get_subdomain(nango).unwrap_or_default();

    // https://developer.zendesk.com/api-reference/ticketing/users/users/#delete-user
    nango
        .delete(format!("/api/v2/users/{}", input.id))
        .base_url(format!("https://{subdomain}.zendesk.com"))
        .retries(3)
        .send()
        .await?;

    Ok(SuccessResponse { success: true })
}
