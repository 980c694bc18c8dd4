//! `syncs/users.ts`.

use crate::models::{User, syncs::Users};
use nango::{NangoSync, Result};
use serde::Deserialize;

/// A user as Notion returns it (`types.ts`: `NotionUser`, the fields used).
#[derive(Debug, Deserialize)]
struct NotionUser {
    id: String,
    name: String,
    bot: Option<serde_json::Value>,
    person: Option<NotionPerson>,
}

#[derive(Debug, Deserialize)]
struct NotionPerson {
    email: String,
}

#[nango::nango_sync(path = "../../../shared/reference/templates/notion/nango.yaml", models = crate::models)]
pub async fn users(nango: &mut NangoSync<Users>) -> Result<()> {
    // https://developers.notion.com/reference/get-users
    let mut pages = nango.paginate::<NotionUser>("/v1/users").retries(10);

    while let Some(raw_users) = pages.next_page().await? {
        let users: Vec<User> = raw_users
            .into_iter()
            .map(|raw_user| {
                let mut name = raw_user.name.split(' ');
                let (first_name, last_name) = (name.next(), name.next());
                User {
                    id: raw_user.id,
                    first_name: first_name.unwrap_or_default().to_owned(),
                    last_name: last_name.unwrap_or_default().to_owned(),
                    email: Some(raw_user.person.map(|p| p.email).unwrap_or_default()),
                    is_bot: raw_user.bot.is_some(),
                }
            })
            .collect();

        nango.batch_save(users).await?;
    }
    Ok(())
}
