//! The Make language: reading makefiles into a `Database` of variables and rules.

pub mod builtin;
pub mod command_words;
pub mod database;
pub mod eval;
pub mod expand;
pub mod functions;
pub mod globbing;
pub mod names;
pub mod reader;
pub mod rules;
pub mod text;
pub mod vars;

pub use database::Database;
