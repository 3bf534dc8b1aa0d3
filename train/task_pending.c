/* temporary: replaced by task_detection.c */
#include "task.h"
static mt_status no(mt_session *s) { return MT_ERR(MT_ERR_UNSUPPORTED, "pending"); }
const mt_task mt_task_detection = {.kind = "detection", .check = no};
