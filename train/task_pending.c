/* temporary: replaced by task_detection.c, task_adversarial.c, task_gdc.c */
#include "task.h"
static mt_status no(mt_session *s) { return MT_ERR(MT_ERR_UNSUPPORTED, "pending"); }
const mt_task mt_task_detection = {.kind = "detection", .check = no};
const mt_task mt_task_adversarial = {.kind = "adversarial", .check = no};
const mt_task mt_task_gdc = {.kind = "gdc", .check = no};
