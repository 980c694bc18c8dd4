//! `syncs/categories.ts`.

use crate::helpers::get_subdomain::get_subdomain;
use crate::models::{Category, syncs::Categories};
use nango::http::Pagination;
use nango::{NangoScript, NangoSync, Result};
use serde::Deserialize;

/// A Help Center category as Zendesk returns it (`types.ts`: `ZendeskCategory`, the fields used).
#[derive(Debug, Deserialize)]
struct ZendeskCategory {
    id: u64,
    url: String,
    name: String,
    description: String,
}

#[nango::nango_sync(path = "../../../shared/reference/templates/zendesk/nango.yaml", models = crate::models)]
pub async fn categories(nango: &mut NangoSync<Categories>) -> Result<()> {
    let subdomain = get_subdomain(nango).unwrap_or_default();
    let metadata: serde_json::Value = nango.get_metadata()?;
    let locale: String = match &metadata["locale"] {
        serde_json::Value::Null => "en-us".to_owned(),
        serde_json::Value::String(s) if s.is_empty() => "en-us".to_owned(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };

    // https://developer.zendesk.com/api-reference/help_center/help-center-api/categories/#list-categories
    let mut pages = nango
        .paginate::<ZendeskCategory>(format!("/api/v2/help_center/{locale}/categories"))
        .base_url(format!("https://{subdomain}.zendesk.com"))
        .retries(10)
        .pagination(
            Pagination::cursor("page[after]", "meta.after_cursor")
                .limit_name_in_request("page[size]")
                .limit(100)
                .response_path("categories"),
        );

    while let Some(z_categories) = pages.next_page().await? {
        let categories: Vec<Category> = z_categories
            .into_iter()
            .map(|z_category| Category {
                id: z_category.id.to_string(),
                name: z_category.name,
                url: z_category.url,
                description: z_category.description,
            })
            .collect();

        nango.batch_save(categories).await?;
    }
    Ok(())
}
