import MoatHost

/// /proc as a test wants it: files and symbolic links held in memory, directories implied by
/// the paths under them. Records every path read, so a test can say what was not read.
final class ProcFiles: HostFiles, @unchecked Sendable {
    var files: [String: String]
    var links: [String: String]
    private(set) var reads: [String] = []

    init(files: [String: String] = [:], links: [String: String] = [:]) {
        self.files = files
        self.links = links
    }

    func read(_ path: String) throws -> String? {
        reads.append(path)
        return files[path]
    }

    func list(_ directory: String) throws -> [String] {
        reads.append(directory)
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        let names = (Array(files.keys) + Array(links.keys)).filter { $0.hasPrefix(prefix) }.compactMap {
            $0.dropFirst(prefix.count).split(separator: "/").first.map(String.init)
        }
        return Array(Set(names))
    }

    func exists(_ path: String) -> Bool { files[path] != nil || links[path] != nil }

    func readLink(_ path: String) throws -> String? {
        reads.append(path)
        return links[path]
    }
}
