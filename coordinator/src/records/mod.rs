//! The coordinator's records in key-value buckets: job records (what the API
//! reports about a job, folded forward from its events) and live channels.
//! Only coordinators read and write them; the contract they share with the
//! other services (submissions, events, cancellations) is in `tessera-core`.

pub mod channels;
pub mod jobs;
