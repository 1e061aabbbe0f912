//! Small wording helpers shared by every output (screen, tables, `config check`).

/// `1 node`, `2 nodes`: a count with its noun, plural by adding `s` (every noun we count does).
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::plural;

    #[test]
    fn one_is_singular_everything_else_plural() {
        assert_eq!(plural(0, "node"), "0 nodes");
        assert_eq!(plural(1, "node"), "1 node");
        assert_eq!(plural(2, "island"), "2 islands");
    }
}
