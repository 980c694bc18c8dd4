//! `mappers/to-message.ts`.

use crate::models::SendMessageOutput;
use serde_json::Value;

/// Slack's answer to `chat.postMessage` as the action's output: on success the channel,
/// timestamp, text and warning, else the error; the whole answer as `raw_json` in both cases.
pub fn to_message(response: Value) -> nango::Result<SendMessageOutput> {
    let text = |key: &str| response[key].as_str().map(str::to_owned);
    let raw_json = serde_json::to_string(&response)?;
    if response["ok"] == true {
        Ok(SendMessageOutput {
            ok: true,
            channel: text("channel").map(Some),
            ts: text("ts").map(Some),
            message: response["message"]["text"].as_str().map(|t| Some(t.to_owned())),
            warning: text("warning").map(Some),
            error: None,
            raw_json,
        })
    } else {
        Ok(SendMessageOutput {
            ok: false,
            channel: None,
            ts: None,
            message: None,
            warning: None,
            error: text("error").map(Some),
            raw_json,
        })
    }
}
