//! The provider catalog against Nango's own (`../shared/reference/nango-providers.yaml`): every
//! one of its 981 entries loads and its templates fill (request-signing ones are refused by
//! name), and every built-in entry agrees with Nango's on the facts it carries.

use nango_runtime::providers::{Provider, ProviderCatalog, TemplateValues, interpolate};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Nango's catalog, or `None` (with a note) when the reference folder is not beside the
/// checkout; under CI it must be.
fn nango_catalog() -> Option<ProviderCatalog> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/nango-providers.yaml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing: CI clones the repository beside `shared/`",
            path.display()
        );
        eprintln!("skipped: {} is not there", path.display());
        return None;
    };
    Some(ProviderCatalog::from_yaml(&text, &path.display().to_string()).unwrap())
}

/// Every template string of an entry, with where it is.
fn templates(provider: &Provider) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |field: &str, value: &Option<String>| {
        if let Some(v) = value {
            out.push((field.to_owned(), v.clone()));
        }
    };
    add("authorization_url", &provider.authorization_url);
    add("token_url", &provider.token_url);
    if let Some(proxy) = &provider.proxy {
        add("proxy.base_url", &proxy.base_url);
        for (name, value) in proxy.headers.iter().chain(&proxy.query) {
            out.push((format!("proxy.{name}"), value.clone()));
        }
    }
    out
}

/// Values for every `${connectionConfig.x}` and `${credentials.x}` a template names, and for the
/// entry's `connection_config` fields.
fn values_for(template: &str, provider: &Provider) -> TemplateValues {
    let mut values = TemplateValues {
        api_key: Some("key".into()),
        access_token: Some("token".into()),
        client_id: Some("client".into()),
        client_secret: Some("secret".into()),
        ..TemplateValues::default()
    };
    for key in provider.connection_config.keys() {
        values.connection_config.insert(key.clone(), "value".into());
    }
    for (prefix, map) in
        [("${connectionConfig.", &mut values.connection_config), ("${credentials.", &mut values.credentials)]
    {
        for (i, _) in template.match_indices(prefix) {
            let name = &template[i + prefix.len()..];
            let name = &name[..name.find('}').unwrap()];
            map.insert(name.to_owned(), "value".into());
        }
    }
    values
}

#[test]
fn every_entry_of_nangos_catalog_loads_and_fills() {
    let Some(nango) = nango_catalog() else { return };
    let keys: Vec<String> = nango.keys().map(str::to_owned).collect();
    assert_eq!(keys.len(), 981);
    let mut signing = BTreeSet::new();
    let mut filled = 0;
    for key in &keys {
        let provider = nango.get(key).unwrap_or_else(|| panic!("`{key}` does not resolve"));
        for (field, template) in templates(&provider) {
            match interpolate(&template, &values_for(&template, &provider)) {
                Ok(text) => {
                    assert!(!text.contains("${"), "{key} {field}: {template} -> {text}");
                    filled += 1;
                }
                Err(e) if e.contains("does not sign requests") => {
                    signing.insert(key.as_str());
                }
                Err(e) => panic!("{key} {field}: {template}: {e}"),
            }
        }
    }
    assert!(filled > 2000, "{filled}");
    // The only ones left: providers whose every request is signed (AWS SigV4, HMAC, Ed25519).
    assert_eq!(
        signing,
        BTreeSet::from([
            "aws-iam",
            "aws-inspector2",
            "aws-multi-service",
            "avanan",
            "cisco-duo-admin",
            "streamline-ai"
        ])
    );
}

#[test]
fn built_in_entries_agree_with_nangos() {
    let Some(nango) = nango_catalog() else { return };
    let ours = ProviderCatalog::builtin();
    let own = ["basic-auth-example", "github-enterprise"];
    let mut compared = 0;
    for key in ours.keys().filter(|k| !own.contains(k)) {
        let (a, b) = (ours.get(key).unwrap(), nango.get(key).unwrap_or_else(|| panic!("`{key}` is not Nango's")));
        assert_eq!(a.auth_mode, b.auth_mode, "{key}: auth_mode");
        assert_eq!(a.authorization_url, b.authorization_url, "{key}: authorization_url");
        assert_eq!(a.token_url, b.token_url, "{key}: token_url");
        let (pa, pb) = (a.proxy.unwrap_or_default(), b.proxy.unwrap_or_default());
        assert_eq!(pa.base_url, pb.base_url, "{key}: base_url");
        assert_eq!(pa.headers, pb.headers, "{key}: headers");
        assert_eq!(pa.query, pb.query, "{key}: query");
        assert_eq!(pa.paginate, pb.paginate, "{key}: paginate");
        // `retry.in_body` (Google's: a wait read from the error's text) is not carried: an entry
        // whose retry settings are only that has none here.
        let retry = pb.retry.filter(|r| *r != Default::default());
        assert_eq!(pa.retry, retry, "{key}: retry");
        compared += 1;
    }
    assert!(compared >= 40, "{compared}");
    // Those the reference templates use are built in.
    for key in ["github", "slack", "linear", "zendesk", "notion"] {
        assert!(ours.get(key).is_some(), "{key}");
    }
}

#[test]
fn readme_lists_every_built_in_provider() {
    let readme = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let section = &readme[readme.find("## Provider catalog").unwrap()..];
    for key in ProviderCatalog::builtin().keys() {
        assert!(section.contains(&format!("`{key}`")), "README's provider catalog does not list `{key}`");
    }
}
