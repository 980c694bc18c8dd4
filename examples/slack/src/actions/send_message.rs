//! `actions/send-message.ts`.

use crate::mappers::to_message::to_message;
use crate::models::{SendMessageInput, SendMessageOutput, actions::SendMessage};
use nango::{ActionError, NangoAction, Result};

/// Sends a message to a Slack channel: checks the input, posts it with `chat.postMessage` and
/// returns Slack's answer as the action's output.
#[nango::nango_action(path = "../../../shared/reference/templates/slack/nango.yaml", models = crate::models)]
pub async fn send_message(nango: &mut NangoAction<SendMessage>, input: SendMessageInput) -> Result<SendMessageOutput> {
    // (The input is decoded into SendMessageInput before the function runs: a missing input
    // is refused with `invalid_action_input` there.)

    // Ensure that the required fields are present to send a message to a Slack channel
    if input.channel.is_empty() || input.text.is_empty() {
        return Err(ActionError::message(format!(
            "Please provide a 'channel' and 'text' for the message. Received: {}",
            serde_json::to_string(&input)?
        ))
        .into());
    }

    let slack_message = serde_json::json!({
        "channel": input.channel,
        "text": input.text
    });

    // https://api.slack.com/methods/chat.postMessage
    let response: serde_json::Value = nango
        .post("/chat.postMessage")
        .json(&slack_message)
        .header("Content-Type", "application/json; charset=utf-8")
        .retries(3)
        .send_json()
        .await?;

    to_message(response)
}
