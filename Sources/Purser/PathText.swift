/// Path strings joined and tidied as `NSString`'s path methods did, without full Foundation (which would
/// link FoundationInternationalization and ICU into `purser`).
package enum PathText {
    /// `component` appended to `base` with one `/` between them; `base` alone when `component` is empty,
    /// `component` alone when `base` is empty.
    package static func join(_ base: String, _ component: String) -> String {
        var base = base
        while base.count > 1, base.hasSuffix("/") { base.removeLast() }
        var component = Substring(component)
        while component.hasPrefix("/") { component.removeFirst() }
        if base.isEmpty { return String(component) }
        if component.isEmpty { return base }
        return base == "/" ? "/" + component : base + "/" + component
    }

    /// `path` with empty and `.` components dropped and `..` applied (never above the root), and no
    /// trailing slash: `/a//b/./c/../d/` is `/a/b/d`. Symbolic links are not resolved.
    package static func standardized(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var kept: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..":
                if let last = kept.last, last != ".." {
                    kept.removeLast()
                } else if !absolute {
                    kept.append(component)
                }
            default: kept.append(component)
            }
        }
        let joined = kept.joined(separator: "/")
        if absolute { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }
}
