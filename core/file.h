/* core/file.h: small helpers for files medtrain writes atomically
 * (checkpoints, datasets, safetensors, ONNX): a temporary file next to the
 * target (mkstemp), then rename. */
#ifndef MT_FILE_H
#define MT_FILE_H

#ifdef __cplusplus
extern "C" {
#endif

/* mkstemp creates its file with mode 0600; this gives the open file `fd` the
 * mode an ordinary new file would get (0666 less the process umask), so the
 * renamed result is readable by the group/others as the user's umask says.
 * Returns 0, or -1 with errno set (fchmod). */
int mt_file_default_mode(int fd);

#ifdef __cplusplus
}
#endif
#endif
