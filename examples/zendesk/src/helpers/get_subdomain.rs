//! `helpers/get-subdomain.ts`: one helper for syncs and actions alike.

use nango::NangoScript;

/// The connection's Zendesk subdomain (`acme` of `acme.zendesk.com`).
pub fn get_subdomain(nango: &impl NangoScript) -> Option<String> {
    let response = nango.get_connection();
    response.connection_config.get("subdomain").cloned()
}
