import Foundation
import MoatConfig

extension ConfigLoader {
    /// Reads and checks the configuration in `paths`: files, and directories whose `*.yaml`
    /// files (in lexical order) belong to it. No paths: the default, `/etc/moat/moat.yaml`
    /// plus `/etc/moat/moat.d/*.yaml`, either of which may be absent (not both). I/O
    /// problems become diagnostics at line 0.
    public static func check(paths: [String]) -> ConfigCheck {
        let found = ConfigFiles.find(paths)
        let sources = found.files.map { file in found.problems[file] ?? source(path: file) }
        return check(sources, name: found.name)
    }

    /// Reads and checks the file (or directory) at `path`.
    public static func check(path: String) -> ConfigCheck {
        check(paths: [path])
    }

    /// The configuration in `paths`, or a MoatError carrying every diagnostic.
    public static func load(paths: [String]) throws(MoatError) -> Config {
        try check(paths: paths).get()
    }

    /// The config in the file at `path`, or a MoatError carrying every diagnostic.
    public static func load(path: String) throws(MoatError) -> Config {
        try check(path: path).get()
    }

    /// The name diagnostics give the file read from standard input (`-`).
    public static let standardInputName = "<stdin>"

    /// One file, read (up to one byte past the limit) and decoded as text; `-` is standard input.
    static func source(path: String) -> ConfigSource {
        if path == "-" {
            let data = (try? FileHandle.standardInput.read(upToCount: maxFileSize + 1)).flatMap { $0 } ?? Data()
            return source(bytes: [UInt8](data), file: standardInputName)
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"
            return ConfigSource(file: path, problem: "cannot read the file: \(reason)")
        }
        defer { try? handle.close() }
        do {
            // One byte past the limit tells "too big" apart without reading /dev/zero forever.
            let data = try handle.read(upToCount: maxFileSize + 1) ?? Data()
            return source(bytes: [UInt8](data), file: path)
        } catch {
            return ConfigSource(file: path, problem: "cannot read the file: \(error.localizedDescription)")
        }
    }
}

/// Which files a configuration is read from.
public enum ConfigFiles {
    /// The files of the configuration given as `paths`, in order (each once), what the
    /// configuration is called in messages, and the problems found instead of a file (a
    /// directory with no `*.yaml` file, no default configuration).
    public static func find(_ paths: [String]) -> (files: [String], name: String, problems: [String: ConfigSource]) {
        var files: [String] = []
        var seen: Set<String> = []
        var problems: [String: ConfigSource] = [:]
        func add(_ file: String) {
            if seen.insert(URL(fileURLWithPath: file).standardizedFileURL.path).inserted { files.append(file) }
        }
        guard !paths.isEmpty else {
            let present = defaultPaths.filter { FileManager.default.fileExists(atPath: $0) }
            if present.isEmpty {
                let file = Config.defaultPath
                problems[file] = ConfigSource(
                    file: file,
                    problem: "no configuration: neither \(Config.defaultPath) nor \(Config.defaultDirectory)/*.yaml exists")
                return ([file], file, problems)
            }
            for path in present {
                if isDirectory(path) { yamlFiles(in: path).forEach(add) } else { add(path) }
            }
            if files.isEmpty {
                problems[Config.defaultDirectory] = ConfigSource(
                    file: Config.defaultDirectory, problem: "no configuration: the directory holds no *.yaml file")
                files = [Config.defaultDirectory]
            }
            return (files, present.joined(separator: ", "), problems)
        }
        for path in paths {
            guard isDirectory(path) else {
                add(path)
                continue
            }
            let inside = yamlFiles(in: path)
            if inside.isEmpty {
                problems[path] = ConfigSource(file: path, problem: "the directory holds no *.yaml file")
                add(path)
            }
            inside.forEach(add)
        }
        return (files, paths.map { $0 == "-" ? ConfigLoader.standardInputName : $0 }.joined(separator: ", "), problems)
    }

    /// `/etc/moat/moat.yaml` and `/etc/moat/moat.d`.
    public static let defaultPaths = [Config.defaultPath, Config.defaultDirectory]

    /// Whether any of the default configuration is there: the file, or a `*.yaml` file in
    /// the directory (status reads the host alone without it).
    public static var defaultIsPresent: Bool {
        FileManager.default.fileExists(atPath: Config.defaultPath) || !yamlFiles(in: Config.defaultDirectory).isEmpty
    }

    /// The directory's `*.yaml` files (not hidden ones, not directories), in lexical order of their bytes.
    static func yamlFiles(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        return names.filter { $0.hasSuffix(".yaml") && !$0.hasPrefix(".") && !isDirectory(prefix + $0) }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            .map { prefix + $0 }
    }

    static func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }
}
