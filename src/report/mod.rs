//! Files hbuild writes about a build for other tools to read.

pub mod advice;
pub mod audit;
pub mod build_report;
pub mod data_base;
pub mod graph_export;
pub mod recursive_audit;
pub mod trace_json;
pub mod violations;
