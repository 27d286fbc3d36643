import Foundation
import MoatConfig

extension ConfigLoader {
    /// Reads and checks the file at `path`; I/O problems become diagnostics at line 0.
    public static func check(path: String) -> ConfigCheck {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"
            return failure(file: path, "cannot read the file: \(reason)")
        }
        defer { try? handle.close() }
        do {
            // One byte past the limit tells "too big" apart without reading /dev/zero forever.
            let data = try handle.read(upToCount: maxFileSize + 1) ?? Data()
            return check(bytes: [UInt8](data), file: path)
        } catch {
            return failure(file: path, "cannot read the file: \(error.localizedDescription)")
        }
    }

    /// The config in the file at `path`, or a MoatError carrying every diagnostic.
    public static func load(path: String) throws(MoatError) -> Config {
        try check(path: path).get()
    }
}
