//! A line-breaking printer for generated Rust: Oppen's algorithm ("Prettyprinting", 1980), with
//! the margin, indentation and break kinds of prettyplease, so that the text written here is laid
//! out exactly as prettyplease laid out the same syntax (the generated files did not change when
//! the generator stopped going through token streams, syn and prettyplease).
//!
//! The caller describes the text as words, breaks and boxes. A box is printed on one line when
//! it fits in what is left of the line; otherwise a *consistent* box breaks at every one of its
//! breaks and an *inconsistent* one only where the text up to its next break would not fit.
//! The size of a box or a break is only known once the next break at its level (or one outside
//! it) has been seen, so tokens wait in a queue until then; a hard break, which never fits,
//! settles everything before it, and the queue is printed at every one.

use std::collections::VecDeque;
use std::rc::Rc;

/// Appends `n` spaces.
pub(crate) fn spaces(out: &mut String, n: usize) {
    const SPACES: &str = "                                                                ";
    let mut n = n;
    while n > 0 {
        let k = n.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        n -= k;
    }
}

/// Where lines are broken.
pub(crate) const MARGIN: isize = 89;
/// One level of indentation.
pub(crate) const INDENT: isize = 4;
/// Deeply indented lines still get this much room.
pub(crate) const MIN_SPACE: isize = 60;
/// The size of what never fits.
const INFINITY: isize = 0xffff;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Breaks {
    Consistent,
    Inconsistent,
}

#[derive(Clone, Copy, Default, Debug)]
struct Break {
    offset: isize,
    blank: isize,
    /// Printed before the newline when the break is taken (a trailing comma).
    pre_break: Option<char>,
    /// Dropped when it ends its box.
    if_nonempty: bool,
    /// Never taken.
    never: bool,
}

/// A word: most are constants or names shared by many items, so that few words are copied.
#[derive(Debug)]
pub(crate) enum Text {
    Static(&'static str),
    Shared(Rc<str>),
    Owned(String),
}

impl Text {
    fn as_str(&self) -> &str {
        match self {
            Text::Static(s) => s,
            Text::Shared(s) => s,
            Text::Owned(s) => s,
        }
    }
}

impl From<&'static str> for Text {
    fn from(s: &'static str) -> Self {
        Text::Static(s)
    }
}

impl From<Rc<str>> for Text {
    fn from(s: Rc<str>) -> Self {
        Text::Shared(s)
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text::Owned(s)
    }
}

#[derive(Debug)]
enum Token {
    Text(Text),
    Break(Break),
    Begin { offset: isize, breaks: Breaks },
    End,
}

#[derive(Clone, Copy)]
enum Frame {
    Fits,
    Broken { indent: usize, breaks: Breaks },
}

/// The printer. Build the text with the methods named after prettyplease's, then [`finish`](Self::finish).
pub(crate) struct Printer {
    out: String,
    /// Room left on the current line.
    space: isize,
    /// Tokens not printed yet, with their sizes (negative: not known yet).
    queue: VecDeque<(Token, isize)>,
    /// Index (in `queue`, counting from `first`) of every queued token whose size is pending.
    pending: Vec<usize>,
    /// The index of `queue[0]`.
    first: usize,
    /// Total size of everything queued so far (printed or not).
    total: isize,
    frames: Vec<Frame>,
    indent: usize,
    /// Spaces owed before the next text (not written before a newline).
    owed: usize,
}

impl Printer {
    /// A printer for text that starts on a fresh line indented by `indent`.
    pub fn new(indent: usize) -> Self {
        Printer {
            out: String::new(),
            space: (MARGIN - indent as isize).max(MIN_SPACE),
            queue: VecDeque::new(),
            pending: Vec::new(),
            first: 0,
            total: 1,
            // Like a file or a module, which always break: every break outside an item's own boxes
            // is a newline.
            frames: vec![Frame::Broken { indent, breaks: Breaks::Consistent }],
            indent,
            owed: indent,
        }
    }

    fn push(&mut self, token: Token, size: isize) -> usize {
        self.queue.push_back((token, size));
        self.first + self.queue.len() - 1
    }

    fn at(&mut self, index: usize) -> &mut (Token, isize) {
        &mut self.queue[index - self.first]
    }

    /// Opens a consistent box (all its breaks or none) indented by `indent`.
    pub fn cbox(&mut self, indent: isize) {
        self.begin(indent, Breaks::Consistent);
    }

    /// Opens an inconsistent box (breaks only where needed) indented by `indent`.
    pub fn ibox(&mut self, indent: isize) {
        self.begin(indent, Breaks::Inconsistent);
    }

    fn begin(&mut self, offset: isize, breaks: Breaks) {
        let i = self.push(Token::Begin { offset, breaks }, -self.total);
        self.pending.push(i);
    }

    /// Closes the innermost box.
    pub fn end(&mut self) {
        if self.queue.is_empty() {
            self.print_end();
            return;
        }
        let len = self.queue.len();
        if let (Token::Break(b), _) = &self.queue[len - 1] {
            let b = *b;
            if len >= 2 && matches!(self.queue[len - 2].0, Token::Begin { .. }) {
                // An empty box, with nothing but a break in it, is no box at all.
                self.queue.truncate(len - 2);
                self.pending.truncate(self.pending.len() - 2);
                self.total -= b.blank;
                return;
            }
            if b.if_nonempty {
                self.queue.truncate(len - 1);
                self.pending.pop();
                self.total -= b.blank;
            }
        }
        let i = self.push(Token::End, -1);
        self.pending.push(i);
    }

    /// Closes the innermost box, which breaks when its text so far is wider than `max`.
    pub fn end_with_max_width(&mut self, max: isize) {
        let mut depth = 1;
        for k in (0..self.pending.len()).rev() {
            let index = self.pending[k];
            let (token, size) = &self.queue[index - self.first];
            match token {
                Token::Begin { .. } => {
                    depth -= 1;
                    if depth == 0 {
                        if *size < 0 && size + self.total > max {
                            self.queue.push_back((Token::Text(Text::Static("")), INFINITY));
                            self.total += INFINITY;
                        }
                        break;
                    }
                }
                Token::End => depth += 1,
                _ => {}
            }
        }
        self.end();
    }

    /// Settles the sizes that the break now being added ends.
    fn settle(&mut self) {
        let mut depth = 0;
        while let Some(&index) = self.pending.last() {
            let total = self.total;
            let (token, size) = self.at(index);
            match token {
                Token::Begin { .. } => {
                    if depth == 0 {
                        break;
                    }
                    *size += total;
                    depth -= 1;
                }
                Token::End => {
                    *size = 1;
                    depth += 1;
                }
                _ => {
                    *size += total;
                    if depth == 0 {
                        self.pending.pop();
                        break;
                    }
                }
            }
            self.pending.pop();
        }
    }

    fn brk(&mut self, b: Break) {
        self.settle();
        let i = self.push(Token::Break(b), -self.total);
        self.pending.push(i);
        self.total += b.blank;
        if b.blank >= INFINITY && !b.if_nonempty {
            self.flush();
        }
    }

    /// Text.
    pub fn word(&mut self, text: impl Into<Text>) {
        let text = text.into();
        let len = text.as_str().len() as isize;
        self.queue.push_back((Token::Text(text), len));
        self.total += len;
    }

    /// A space that is a newline when its box breaks.
    pub fn space(&mut self) {
        self.brk(Break { blank: 1, ..Break::default() });
    }

    /// Nothing, or a newline when its box breaks.
    pub fn zerobreak(&mut self) {
        self.brk(Break::default());
    }

    /// A space that never breaks.
    pub fn nbsp(&mut self) {
        self.word(" ");
    }

    /// Always a newline.
    pub fn hardbreak(&mut self) {
        self.brk(Break { blank: INFINITY, ..Break::default() });
    }

    /// A newline, unless the box ends right after it.
    pub fn hardbreak_if_nonempty(&mut self) {
        self.brk(Break { blank: INFINITY, if_nonempty: true, ..Break::default() });
    }

    /// A space, unless the box ends right after it.
    pub fn space_if_nonempty(&mut self) {
        self.brk(Break { blank: 1, if_nonempty: true, ..Break::default() });
    }

    /// A break that is never taken (it only ends the size of what is before it).
    pub fn neverbreak(&mut self) {
        self.brk(Break { never: true, ..Break::default() });
    }

    /// `,` and a space between items; after the last, a comma only when the box breaks.
    pub fn trailing_comma(&mut self, is_last: bool) {
        if is_last {
            self.brk(Break { pre_break: Some(','), ..Break::default() });
        } else {
            self.word(",");
            self.space();
        }
    }

    /// Like [`trailing_comma`](Self::trailing_comma), with a space after the last when it fits.
    pub fn trailing_comma_or_space(&mut self, is_last: bool) {
        if is_last {
            self.brk(Break { blank: 1, pre_break: Some(','), ..Break::default() });
        } else {
            self.word(",");
            self.space();
        }
    }

    /// Shifts the indentation of the line after the last break.
    pub fn offset(&mut self, offset: isize) {
        if let Some((Token::Break(b), _)) = self.queue.back_mut() {
            b.offset += offset;
        }
    }

    /// Prints every queued token before the last one (a hard break just added): their sizes
    /// are known now, and those still pending run past the hard break, so they never fit.
    fn flush(&mut self) {
        let keep = self.queue.len() - 1;
        if keep == 0 || matches!(self.queue[keep - 1].0, Token::Begin { .. }) {
            return;
        }
        let last = self.first + keep;
        for k in 0..self.pending.len() {
            let index = self.pending[k];
            if index < last {
                self.at(index).1 = INFINITY;
            }
        }
        self.pending.retain(|&i| i >= last);
        for _ in 0..keep {
            let (token, size) = self.queue.pop_front().expect("queued");
            self.first += 1;
            self.print(token, size);
        }
    }

    fn print(&mut self, token: Token, size: isize) {
        match token {
            Token::Text(text) => {
                spaces(&mut self.out, self.owed);
                self.owed = 0;
                self.out.push_str(text.as_str());
                self.space -= text.as_str().len() as isize;
            }
            Token::Begin { offset, breaks } => {
                if size > self.space {
                    self.frames.push(Frame::Broken { indent: self.indent, breaks });
                    self.indent = (self.indent as isize + offset) as usize;
                } else {
                    self.frames.push(Frame::Fits);
                }
            }
            Token::End => self.print_end(),
            Token::Break(b) => {
                let fits = b.never
                    || match self.frames.last() {
                        Some(Frame::Fits) => true,
                        Some(Frame::Broken { breaks: Breaks::Consistent, .. }) | None => false,
                        Some(Frame::Broken { breaks: Breaks::Inconsistent, .. }) => size <= self.space,
                    };
                if fits {
                    self.owed += b.blank as usize;
                    self.space -= b.blank;
                } else {
                    if let Some(c) = b.pre_break {
                        spaces(&mut self.out, self.owed);
                        self.out.push(c);
                    }
                    self.out.push('\n');
                    let indent = self.indent as isize + b.offset;
                    self.owed = indent as usize;
                    self.space = (MARGIN - indent).max(MIN_SPACE);
                }
            }
        }
    }

    fn print_end(&mut self) {
        if let Some(Frame::Broken { indent, .. }) = self.frames.pop() {
            self.indent = indent;
        }
    }

    /// The text.
    pub fn finish(mut self) -> String {
        for k in 0..self.pending.len() {
            let index = self.pending[k];
            self.at(index).1 = INFINITY;
        }
        while let Some((token, size)) = self.queue.pop_front() {
            self.print(token, size);
        }
        self.out
    }
}
