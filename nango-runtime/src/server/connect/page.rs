//! The pages the popup shows at the end of the flow (and the Connect UI's frame): plain HTML,
//! no external assets.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

/// The style of the flow's pages: inline, so the pages load nothing else.
pub(crate) const STYLE: &str = "html{background:#eaeef2}\
body{font-family:system-ui,sans-serif;max-width:34em;margin:2.5em auto;padding:1em 1.5em;color:#1b1f24;background:#fff;border-radius:10px;box-shadow:0 4px 18px rgba(0,0,0,.15)}\
h1{font-size:1.35em}.error{color:#a40e26;background:#ffebe9;padding:.75em 1em;border-radius:6px}\
.ok{color:#116329;background:#dafbe1;padding:.75em 1em;border-radius:6px}\
ul.integrations{list-style:none;padding:0}ul.integrations li{border:1px solid #d0d7de;border-radius:6px;padding:.75em 1em;margin:.5em 0}\
button,a.button{font:inherit;padding:.4em 1em;border-radius:6px;border:1px solid #1f883d;background:#1f883d;color:#fff;cursor:pointer;text-decoration:none}\
label{display:block;margin:.5em 0 .2em}input{font:inherit;width:100%;box-sizing:border-box;padding:.35em}.muted{color:#59636e}";

/// A whole page.
pub(crate) fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (maud::PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
}

/// The popup's page after a failure: what happened and what to do.
pub(crate) fn failure(status: StatusCode, code: &str, message: &str) -> Response {
    let body = html! {
        h1 { "Connection failed" }
        p.error id="error" data-code=(code) { (message) }
        p.muted { "You can close this window and try again." }
    };
    (status, Html(layout("Connection failed", body).into_string())).into_response()
}

/// The popup's page after a success.
pub(crate) fn success(integration: &str, connection_id: &str) -> Response {
    let body = html! {
        h1 { "Connected" }
        p.ok id="connected" data-connection-id=(connection_id) { "Your " (integration) " account is connected. You can close this window." }
    };
    Html(layout("Connected", body).into_string()).into_response()
}
