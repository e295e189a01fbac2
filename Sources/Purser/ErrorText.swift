import FoundationEssentials
import Glibc

/// A file error in words, as `localizedDescription` gave it with full Foundation (which would link
/// FoundationInternationalization and ICU into `purser`; FoundationEssentials has no localized text).
package enum ErrorText {
    /// The system's words for the errno behind `error` ("Permission denied"), else the error's description.
    package static func describe(_ error: any Error) -> String {
        if let posix = error as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
        if let cocoa = error as? CocoaError {
            if let posix = cocoa.userInfo["NSUnderlyingError"] as? POSIXError {
                return String(cString: strerror(posix.code.rawValue))
            }
            return "file error \(cocoa.code.rawValue)"
        }
        return String(describing: error)
    }
}
