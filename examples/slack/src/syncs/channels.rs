//! `syncs/channels.ts`.

use crate::models::{SlackChannel, syncs::Channels};
use nango::{NangoScript, NangoSync, Result};
use serde::Deserialize;
use serde_json::Value;

/// The fields of a Slack conversation the sync maps (Slack's `conversations.list` items).
#[derive(Debug, Deserialize)]
struct Conversation {
    id: String,
    name: String,
    is_channel: bool,
    is_group: bool,
    is_im: bool,
    created: f64,
    creator: String,
    is_archived: bool,
    is_general: bool,
    name_normalized: String,
    is_shared: bool,
    is_private: bool,
    is_mpim: bool,
    updated: f64,
    num_members: f64,
}

#[nango::nango_sync(path = "../../../shared/reference/templates/slack/nango.yaml", models = crate::models)]
pub async fn channels(nango: &mut NangoSync<Channels>) -> Result<()> {
    let responses = get_all_pages(nango, "conversations.list").await?;

    let metadata: Value = nango.get_metadata()?;

    let mut mapped_channels: Vec<SlackChannel> = Vec::new();
    for record in responses {
        let channel: Conversation = serde_json::from_value(record.clone())?;
        mapped_channels.push(SlackChannel {
            id: channel.id,
            name: channel.name,
            is_channel: channel.is_channel,
            is_group: channel.is_group,
            is_im: channel.is_im,
            created: channel.created,
            creator: channel.creator,
            is_archived: channel.is_archived,
            is_general: channel.is_general,
            name_normalized: channel.name_normalized,
            is_shared: channel.is_shared,
            is_private: channel.is_private,
            is_mpim: channel.is_mpim,
            updated: channel.updated,
            num_members: channel.num_members,
            raw_json: serde_json::to_string(&record)?,
        });
    }

    // Now let's also join all public channels where we are not yet a member
    if metadata["joinPublicChannels"].as_bool() == Some(true) {
        join_public_channels(nango, &mapped_channels).await?;
    }

    // Save channels
    nango.batch_save(mapped_channels).await
}

/// Checks for public channels where the bot is not a member yet and joins them.
async fn join_public_channels(nango: &mut NangoSync<Channels>, channels: &[SlackChannel]) -> Result<()> {
    // Get ID of all channels where we are already a member
    let joined_channels_response = get_all_pages(nango, "users.conversations").await?;
    let channel_ids: Vec<&str> = joined_channels_response.iter().filter_map(|record| record["id"].as_str()).collect();

    // For every public, not shared channel where we are not a member yet, join
    for channel in channels {
        if !channel_ids.contains(&channel.id.as_str()) && !channel.is_shared && !channel.is_private {
            nango
                .post("conversations.join")
                .json(&serde_json::json!({ "channel": channel.id }))
                .retries(10)
                .send()
                .await?;
        }
    }
    Ok(())
}

async fn get_all_pages(nango: &mut NangoSync<Channels>, endpoint: &str) -> Result<Vec<Value>> {
    let mut next_cursor = "x".to_owned();
    let mut responses: Vec<Value> = Vec::new();

    while !next_cursor.is_empty() {
        let response: Value = nango
            .get(endpoint)
            .query("limit", "200")
            .query("cursor", if next_cursor != "x" { next_cursor.as_str() } else { "" })
            .retries(10)
            .send_json()
            .await?;

        if response["ok"] != true {
            nango.log(format!(
                "Received a Slack API error (for {endpoint}): {}",
                serde_json::to_string_pretty(&response)?
            ));
        }

        if let Some(channels) = response["channels"].as_array() {
            responses.extend(channels.iter().cloned());
        }
        next_cursor = response["response_metadata"]["next_cursor"].as_str().unwrap_or_default().to_owned();
    }

    Ok(responses)
}
