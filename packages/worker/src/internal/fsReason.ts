/**
 * A file system failure in the words a person acts on. Internal to the worker.
 */

/**
 * Why a file operation failed, from the error's code where it has one (a Node error, or the
 * platform's `SystemError` around one): "permission denied", not "PermissionDenied:
 * FileSystem.open (...): EACCES: ...". `missing` is what ENOENT means for the operation: for a
 * read, no such file; for a write, which creates the file, no such directory.
 */
export const fsReason = (error: unknown, missing: string): string => {
  const cause = (error as { readonly cause?: unknown }).cause
  const code = (error as { readonly code?: unknown }).code ?? (cause as { readonly code?: unknown } | undefined)?.code
  switch (code) {
    case "ENOENT":
      return missing
    case "EACCES":
    case "EPERM":
      return "permission denied"
    case "EISDIR":
      return "it is a directory"
    case "ENOSPC":
      return "no space left on the device"
    case "EDQUOT":
      return "the disk quota is exceeded"
    case "EROFS":
      return "the file system is read-only"
    default:
      return error instanceof Error ? error.message : String(error)
  }
}
