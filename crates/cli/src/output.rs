//! Writing results on stdout: the API's JSON for scripts, tables for people.

use std::io::{ErrorKind, Write};

use serde::Serialize;

use crate::error::CliError;
use crate::table;

/// A list of items and how to show one as a table row.
#[derive(Debug)]
pub struct Listing<'a, T> {
    pub items: &'a [T],
    pub headers: &'a [&'a str],
    pub row: fn(&T) -> Vec<String>,
}

impl<T> Listing<'_, T> {
    pub fn table(&self) -> String {
        let rows: Vec<Vec<String>> = self.items.iter().map(self.row).collect();
        table::render(self.headers, &rows)
    }
}

/// Writes `text` on stdout. A reader that went away (`| head`) is not an error.
pub fn print(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => Err(CliError::Output(e)),
        _ => Ok(()),
    }
}

/// Writes `value` as pretty-printed JSON on stdout.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Output(e.into()))?;
    print(&format!("{text}\n"))
}

/// The items as a JSON array, or as a table.
pub fn list<T: Serialize>(as_json: bool, listing: &Listing<'_, T>) -> Result<(), CliError> {
    if as_json {
        json(listing.items)
    } else {
        print(&listing.table())
    }
}
