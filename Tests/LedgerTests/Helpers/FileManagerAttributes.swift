import Glibc

enum FileManagerAttributes {
    struct StatError: Error {}

    static func mode(_ path: String) throws -> UInt32 {
        var status = stat()
        guard stat(path, &status) == 0 else { throw StatError() }
        return UInt32(status.st_mode)
    }
}
