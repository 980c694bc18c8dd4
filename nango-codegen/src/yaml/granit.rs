//! The general reader: granit-parser's events into the [`Builder`]. Reads all of YAML, and is
//! what every YAML error message comes from.

use super::{Builder, MAX_DEPTH, SYNTAX_HELP, error};
use crate::{Diagnostic, Span};
use serde_saphyr::granit_parser::{self, Event, Marker, Parser};

fn span_of(start: &Marker, end: &Marker, source: &str) -> Span {
    let offset = start.byte_offset().unwrap_or(0).min(source.len());
    let end = end.byte_offset().unwrap_or(offset).clamp(offset, source.len());
    Span { offset, len: end - offset, line: start.line() as u32, column: start.col() as u32 + 1 }
}

fn point(marker: &Marker, source: &str) -> Span {
    span_of(marker, marker, source)
}

/// Reads the one document of `source` into `builder`.
pub(super) fn read<'s>(source: &'s str, builder: &mut Builder<'s>) -> Result<(), Box<Diagnostic>> {
    let mut options = granit_parser::Options::default();
    options.flow_nesting_limit = MAX_DEPTH + 1;
    options.block_nesting_limit = MAX_DEPTH + 1;
    let parser = Parser::new_from_str_with_options(source, options);
    let mut documents = 0;
    for event in parser {
        let (event, span) = event.map_err(|e| {
            let at = point(e.marker(), source);
            let message = e.info();
            error(message, Span { len: usize::from(at.offset < source.len()), ..at }, SYNTAX_HELP)
        })?;
        let here = span_of(&span.start, &span.end, source);
        match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return Err(error(
                        "expected a single document in the stream, but found more",
                        here,
                        "remove the `---` separator: nango.yaml is one document",
                    ));
                }
            }
            Event::Scalar(text, style, anchor, tag) => builder.scalar(text, style, tag.as_deref(), anchor, here)?,
            Event::SequenceStart(_, anchor, _) => builder.start(false, anchor, here)?,
            Event::MappingStart(_, anchor, _) => builder.start(true, anchor, here)?,
            Event::SequenceEnd | Event::MappingEnd => builder.end(here)?,
            Event::Alias(id) => builder.alias(id, here)?,
            Event::UnresolvedAlias(name) => {
                return Err(error(
                    format!("unknown alias `*{name}`"),
                    here,
                    "define the anchor (`&name`) before using `*name`",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}
