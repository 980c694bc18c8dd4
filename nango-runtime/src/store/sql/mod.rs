//! SQL that SQLite and PostgreSQL run alike, written once. Each file holds one concern's
//! backend traits as a macro that each backend invokes for its own type: the statements, the
//! row handling and the errors are the same text on both, and only the pool, row and
//! transaction types differ (sqlx has no type that is both, and code generic over
//! `sqlx::Database` would need a bound for every type bound or decoded). A statement that
//! differs between the two stays in the backend's own folder.

pub(super) mod connect;
pub(super) mod connections;
pub(super) mod integrations;
pub(super) mod validators;

/// The URL parameter that sets the number of pooled connections, on both backends (sqlx would
/// refuse it on SQLite and ignore it on PostgreSQL, so it is taken out before sqlx reads the URL).
const POOL_SIZE_PARAMETER: &str = "pool_size";

/// The URL without its `pool_size` parameter, and that parameter's value (a positive number).
pub(super) fn take_pool_size(url: &str) -> Result<(String, Option<u32>), String> {
    take_number(url, POOL_SIZE_PARAMETER, "the number of pooled connections")
}

/// The URL without its parameter `name`, and that parameter's value, a positive number (`what`
/// it is names it in the error).
pub(super) fn take_number(url: &str, name: &str, what: &str) -> Result<(String, Option<u32>), String> {
    let Some((base, query)) = url.split_once('?') else { return Ok((url.to_owned(), None)) };
    let mut number = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some((key, value)) if key == name => match value.parse::<u32>() {
                Ok(n) if n > 0 => number = Some(n),
                _ => return Err(format!("`{name}={value}`: {what} must be a whole number from 1")),
            },
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Ok((url, number))
}

#[cfg(test)]
mod tests {
    use super::take_pool_size;

    #[test]
    fn the_pool_size_is_taken_out_of_the_url() {
        let taken = |url: &str| take_pool_size(url).unwrap();
        assert_eq!(taken("postgres://h/db"), ("postgres://h/db".to_owned(), None));
        assert_eq!(taken("postgres://h/db?pool_size=2"), ("postgres://h/db".to_owned(), Some(2)));
        assert_eq!(
            taken("postgres://h/db?sslmode=disable&pool_size=3&application_name=x"),
            ("postgres://h/db?sslmode=disable&application_name=x".to_owned(), Some(3))
        );
        for bad in ["postgres://h/db?pool_size=0", "postgres://h/db?pool_size=ten"] {
            let e = take_pool_size(bad).unwrap_err();
            assert!(e.contains("pool_size=") && e.contains("whole number"), "{e}");
        }
        assert_eq!(taken("sqlite:///tmp/n.db?pool_size=1"), ("sqlite:///tmp/n.db".to_owned(), Some(1)));
        assert_eq!(taken("sqlite://n.db?mode=rwc&pool_size=1"), ("sqlite://n.db?mode=rwc".to_owned(), Some(1)));
    }
}
