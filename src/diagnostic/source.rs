//! The text of every file a validation read, so findings can point into it.

use std::sync::Arc;

/// One file's text and the byte offsets where its lines start.
#[derive(Debug)]
pub struct SourceFile {
    pub path: Arc<str>,
    pub text: String,
    line_starts: Vec<usize>,
    /// Whether the whole text is ASCII: then a column is a byte difference, not a count of
    /// characters (a generated file with many findings on one long line stays linear).
    ascii: bool,
}

impl SourceFile {
    pub fn new(path: impl Into<Arc<str>>, text: String) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let ascii = text.is_ascii();
        SourceFile {
            path: path.into(),
            text,
            line_starts,
            ascii,
        }
    }

    /// 1-based line and column (counted in characters) of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let start = self.line_starts[line];
        let column = if self.ascii {
            offset - start
        } else {
            self.text
                .get(start..offset)
                .map_or(offset - start, |s| s.chars().count())
        };
        (line + 1, column + 1)
    }

    /// The text of a 1-based line, without its line break, and the byte offset it starts at.
    pub fn line(&self, line: usize) -> (&str, usize) {
        let start = self.line_starts[line - 1];
        let end = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len());
        let text = self.text[start..end].trim_end_matches(['\n', '\r']);
        (text, start)
    }
}

/// An arena of files; findings name files by index.
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, file: SourceFile) -> usize {
        self.files.push(file);
        self.files.len() - 1
    }

    pub fn get(&self, id: usize) -> &SourceFile {
        &self.files[id]
    }

    pub fn find(&self, path: &str) -> Option<&SourceFile> {
        self.files.iter().find(|f| &*f.path == path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let file = SourceFile::new("t.toml", "a = 1\nbé = \"x\"\n".to_owned());
        assert_eq!(file.position(0), (1, 1));
        assert_eq!(file.position(6), (2, 1));
        // `=` after the two-byte `é` is the fourth character of line 2.
        assert_eq!(file.position(10), (2, 4));
        assert_eq!(file.line(2), ("bé = \"x\"", 6));
    }
}
