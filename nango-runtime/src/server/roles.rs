//! The roles of a `serve` process (`--roles api,scheduler,runner,webhooks`): any number of
//! processes with any roles share one database, and coordinate through it only.

use std::fmt;

/// What a `serve` process does. All four by default (one process does everything).
///
/// ```
/// use nango_runtime::server::Roles;
/// let roles: Roles = "runner, webhooks".parse().unwrap();
/// assert!(roles.runner && roles.webhooks && !roles.api);
/// assert_eq!(roles.to_string(), "runner,webhooks");
/// assert!("api,cook".parse::<Roles>().unwrap_err().contains("`cook`"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// The HTTP API and the console (every process answers `/health` and `/metrics`).
    pub api: bool,
    /// Turns due schedules into tasks, and closes the runs of processes that died.
    pub scheduler: bool,
    /// Claims tasks and runs them.
    pub runner: bool,
    /// Delivers the queued sync webhooks.
    pub webhooks: bool,
}

impl Default for Roles {
    fn default() -> Self {
        Roles { api: true, scheduler: true, runner: true, webhooks: true }
    }
}

impl std::str::FromStr for Roles {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut roles = Roles { api: false, scheduler: false, runner: false, webhooks: false };
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "api" => roles.api = true,
                "scheduler" => roles.scheduler = true,
                "runner" => roles.runner = true,
                "webhooks" => roles.webhooks = true,
                "all" => roles = Roles::default(),
                other => {
                    return Err(format!(
                        "unknown role `{other}`: the roles are api, scheduler, runner and webhooks (comma separated), or all"
                    ));
                }
            }
        }
        if roles == (Roles { api: false, scheduler: false, runner: false, webhooks: false }) {
            return Err("no role given: name at least one of api, scheduler, runner, webhooks (or all)".into());
        }
        Ok(roles)
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> =
            [(self.api, "api"), (self.scheduler, "scheduler"), (self.runner, "runner"), (self.webhooks, "webhooks")]
                .into_iter()
                .filter_map(|(on, name)| on.then_some(name))
                .collect();
        f.write_str(&names.join(","))
    }
}
