//! The typed client of the service's HTTP API, for the applications that consume synced
//! records: [`NangoClient`], from the `nango-client` crate.
//!
//! A consumer depends on `nango-client` alone (no database driver, web framework or CLI in its
//! build); this module re-exports it so that a program that runs syncs and also reads records
//! needs no second dependency.
//!
//! ```no_run
//! use nango_runtime::client::NangoClient;
//! # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
//! # struct Ticket { id: String, title: String }
//! # impl nango_runtime::Model for Ticket {
//! #     const NAME: &'static str = "Ticket";
//! #     fn id(&self) -> String { self.id.clone() }
//! # }
//!
//! # async fn demo() -> Result<(), nango_runtime::client::ClientError> {
//! let client = NangoClient::new("http://localhost:3003", "secret-key");
//! let mut records = client.records::<Ticket>("github", "acme").stream();
//! while let Some(record) = records.next().await {
//!     println!("{}", record?.record.title);
//! }
//! # Ok(())
//! # }
//! ```

pub use nango_client::{
    ChangeCounts, ClientError, NangoClient, Record, RecordMetadata, RecordStream, RecordsPage, RecordsRequest,
    SyncState, SyncStatus,
};
