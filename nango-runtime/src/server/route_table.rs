//! A router that remembers the paths it routes: the service's router is built through it, so
//! [`super::route_paths`] lists exactly what is served, and the OpenAPI test compares that list
//! with `/openapi.json` (a route added without its description fails that test).

use super::AppState;
use axum::Router;
use axum::routing::MethodRouter;
use std::sync::Arc;

/// An axum router and the paths given to it, in axum's syntax (`/connections/{connection_id}`).
pub(super) struct RouteTable {
    router: Router<Arc<AppState>>,
    paths: Vec<&'static str>,
}

impl RouteTable {
    pub(super) fn new() -> Self {
        RouteTable { router: Router::new(), paths: Vec::new() }
    }

    /// Routes `path` to `methods`, and remembers it.
    pub(super) fn route(mut self, path: &'static str, methods: MethodRouter<Arc<AppState>>) -> Self {
        self.router = self.router.route(path, methods);
        self.paths.push(path);
        self
    }

    /// Both tables in one.
    pub(super) fn merge(mut self, other: RouteTable) -> Self {
        self.router = self.router.merge(other.router);
        self.paths.extend(other.paths);
        self
    }

    /// The router, changed by `f` (layers that apply to the routes so far).
    pub(super) fn map_router(mut self, f: impl FnOnce(Router<Arc<AppState>>) -> Router<Arc<AppState>>) -> Self {
        self.router = f(self.router);
        self
    }

    pub(super) fn into_parts(self) -> (Router<Arc<AppState>>, Vec<&'static str>) {
        (self.router, self.paths)
    }
}
