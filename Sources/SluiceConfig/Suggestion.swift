/// "Did you mean": the closest known word to a misspelt one.
enum Suggestion {
    /// The candidate within edit distance 2 of `word` (the nearest, the first on a tie), or else the one `word` is a
    /// prefix of or that is a prefix of `word` (`keepalive_time` → `keepalive_timeout`). Nil when nothing is close.
    static func closest(to word: String, in candidates: some Sequence<String>) -> String? {
        var best: (candidate: String, distance: Int)?
        // Among prefixes, the nearest in length: `keepalive_time` is `keepalive_timeout` cut short, not `keepalive`
        // run long.
        var prefixMatch: (candidate: String, difference: Int)?
        for candidate in candidates where candidate != word {
            let distance = levenshtein(word, candidate, limit: 2)
            if distance <= 2, distance < (best?.distance ?? .max) { best = (candidate, distance) }
            let difference = abs(word.count - candidate.count)
            if min(word.count, candidate.count) >= 3, candidate.hasPrefix(word) || word.hasPrefix(candidate),
                difference < (prefixMatch?.difference ?? .max)
            {
                prefixMatch = (candidate, difference)
            }
        }
        return best?.candidate ?? prefixMatch?.candidate
    }

    /// Edit distance (insertions, deletions, substitutions) between `a` and `b`, or `limit + 1` once it is clear the
    /// distance exceeds `limit`.
    static func levenshtein(_ a: String, _ b: String, limit: Int) -> Int {
        let a = Array(a.unicodeScalars)
        let b = Array(b.unicodeScalars)
        if abs(a.count - b.count) > limit { return limit + 1 }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in stride(from: 1, through: a.count, by: 1) {
            current[0] = i
            var rowMinimum = current[0]
            for j in stride(from: 1, through: b.count, by: 1) {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(substitution, previous[j] + 1, current[j - 1] + 1)
                rowMinimum = min(rowMinimum, current[j])
            }
            if rowMinimum > limit { return limit + 1 }
            swap(&previous, &current)
        }
        return min(previous[b.count], limit + 1)
    }
}
