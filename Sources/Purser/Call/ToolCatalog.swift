/// The loaded tools, in a stable order.
public struct ToolCatalog: Sendable {
    /// Every tool, sorted by name.
    public let manifests: [ToolManifest]
    private let index: [String: Int]

    /// Creates a catalog; later duplicates of a name are ignored (the loader already reports them).
    public init(_ manifests: [ToolManifest]) {
        var unique: [ToolManifest] = []
        var index: [String: Int] = [:]
        for manifest in manifests.sorted(by: { $0.name < $1.name }) where index[manifest.name] == nil {
            index[manifest.name] = unique.count
            unique.append(manifest)
        }
        self.manifests = unique
        self.index = index
    }

    /// The tool called `name`.
    public func manifest(named name: String) -> ToolManifest? {
        index[name].map { manifests[$0] }
    }
}
