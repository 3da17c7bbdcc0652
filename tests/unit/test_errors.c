/* test_errors.c - the closed error vocabulary (common.h, docs/outputs.md): a type is a
 * listed subtype or its code's name, out-of-memory and overflow have one spelling each,
 * and bt_err_move leaves the traceback with exactly one owner. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common.h"

static const char *type_of(int code, const char *type) {
  static bt_err err;
  bt_err_clear(&err);
  bt_errf(&err, code, type, "x");
  return err.type;
}

static void test_types(void) {
  CHECK(strcmp(type_of(BT_EINVAL, "csv_error"), "csv_error") == 0);
  CHECK(strcmp(type_of(BT_ELIMIT, "timeout"), "timeout") == 0);
  CHECK(strcmp(type_of(BT_EINVAL, "not_found"), "not_found") == 0);
  /* not a listed subtype: the code's name */
  CHECK(strcmp(type_of(BT_EINVAL, "made_up_error"), "invalid_input") == 0);
  CHECK(strcmp(type_of(BT_EIO, NULL), "io_error") == 0);
  CHECK(strcmp(type_of(BT_ESTATE, "error"), "invalid_state") == 0);
  /* one spelling for out-of-memory, whatever the subsystem */
  CHECK(strcmp(type_of(BT_ENOMEM, "oom"), "out_of_memory") == 0);
  CHECK(strcmp(type_of(BT_ENOMEM, "csv_error"), "out_of_memory") == 0);
  CHECK(strcmp(type_of(BT_ENOMEM, NULL), "out_of_memory") == 0);
  /* and for overflow */
  CHECK(strcmp(type_of(BT_ERANGE, "overflow_error"), "overflow") == 0);
  CHECK(strcmp(type_of(BT_ERANGE, "overflow"), "overflow") == 0);
  bt_err at = {0};
  bt_errf_at(&at, BT_ENOMEM, "queue_error", "f.csv", 3, "close", "no memory");
  CHECK(strcmp(at.type, "out_of_memory") == 0 && strcmp(at.file, "f.csv") == 0);
}

static void test_move(void) {
  bt_err src = {0}, dst = {0};
  bt_errf(&dst, BT_ELUA, "lua_error", "old");
  dst.traceback = strdup("old traceback"); /* freed by the move */
  bt_errf(&src, BT_ELUA, "lua_error", "boom");
  src.traceback = strdup("stack traceback:\n\t[C]: in ?");
  char *tb = src.traceback;
  bt_err_move(&dst, &src);
  CHECK(dst.traceback == tb && strcmp(dst.msg, "boom") == 0 && dst.code == BT_ELUA);
  CHECK(src.traceback == NULL && src.code == 0 && src.msg[0] == '\0');
  bt_err_move(&dst, &dst); /* to itself: unchanged */
  CHECK(dst.traceback == tb);
  bt_err_clear(&dst);
  bt_err_clear(&src);
}

int main(void) {
  test_types();
  test_move();
  return failures != 0;
}
