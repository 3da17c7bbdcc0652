/* job_spec.c - parse and check a job spec (job_spec.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_spec.h"

bool bt_job_name_valid(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > BT_JOB_NAME_MAX || s[0] == '.') return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

static int bad(bt_err *err, const char *field, const char *fmt, const char *arg) {
  char msg[256];
  snprintf(msg, sizeof msg, fmt, arg);
  return bt_errf_at(err, BT_EINVAL, "invalid_request", "", 0, field, "%s", msg);
}

static int name_field(const cJSON *v, const char *field, char *out, bt_err *err) {
  if (!cJSON_IsString(v)) return bad(err, field, "expected a string%s", "");
  if (!bt_job_name_valid(v->valuestring))
    return bad(err, field,
               "'%.100s' is not a name (1-100 characters of A-Z a-z 0-9 _ . -, not starting "
               "with '.'; paths are refused)",
               v->valuestring);
  strcpy(out, v->valuestring);
  return 0;
}

/* A number as the text Lua reads back as the same number: integers without a fraction. */
static char *number_text(double d) {
  char buf[64];
  if (d == floor(d) && fabs(d) < 9e15) snprintf(buf, sizeof buf, "%.0f", d);
  else snprintf(buf, sizeof buf, "%.17g", d);
  return strdup(buf);
}

int bt_job_spec_from_cjson(const cJSON *o, const char *const *allowed_extra,
                           bt_job_spec *out, bt_err *err) {
  memset(out, 0, sizeof *out);
  if (!cJSON_IsObject(o))
    return bt_errf_at(err, BT_EINVAL, "invalid_request", "", 0, "", "expected a JSON object");
  bool has_strategy = false;
  int rc = 0;
  for (const cJSON *v = o->child; v && !rc; v = v->next) {
    const char *k = v->string;
    if (strcmp(k, "strategy") == 0) {
      rc = name_field(v, "strategy", out->strategy, err);
      has_strategy = true;
    } else if (strcmp(k, "data") == 0) {
      if (!cJSON_IsArray(v)) {
        rc = bad(err, "data", "expected an array of dataset names%s", "");
        break;
      }
      for (const cJSON *d = v->child; d && !rc; d = d->next) {
        char field[32];
        snprintf(field, sizeof field, "data[%d]", out->ndata);
        if (out->ndata == BT_JOB_SPEC_MAX_DATA) {
          rc = bad(err, field, "at most 16 datasets%s", "");
          break;
        }
        rc = name_field(d, field, out->data[out->ndata], err);
        if (!rc) out->ndata++;
      }
    } else if (strcmp(k, "params") == 0) {
      if (!cJSON_IsObject(v)) {
        rc = bad(err, "params", "expected an object%s", "");
        break;
      }
      for (const cJSON *p = v->child; p && !rc; p = p->next) {
        char field[BT_JOB_NAME_MAX + 16];
        snprintf(field, sizeof field, "params.%.100s", p->string);
        if (out->nparams == BT_JOB_SPEC_MAX_PARAMS) {
          rc = bad(err, field, "at most 64 params%s", "");
          break;
        }
        if (!bt_job_name_valid(p->string)) {
          rc = bad(err, field, "'%.100s' is not a parameter name", p->string);
          break;
        }
        char *text = cJSON_IsNumber(p)   ? number_text(p->valuedouble)
                     : cJSON_IsTrue(p)   ? strdup("true")
                     : cJSON_IsFalse(p)  ? strdup("false")
                     : cJSON_IsString(p) ? strdup(p->valuestring)
                                         : NULL;
        if (!text) {
          rc = cJSON_IsNumber(p) || cJSON_IsBool(p) || cJSON_IsString(p)
                   ? bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory")
                   : bad(err, field, "expected a number, string or boolean%s", "");
          break;
        }
        strcpy(out->params[out->nparams].name, p->string);
        out->params[out->nparams++].value = text;
      }
    } else if (strcmp(k, "cash") == 0) {
      char buf[64];
      const char *text = NULL;
      if (cJSON_IsString(v)) text = v->valuestring;
      else if (cJSON_IsNumber(v)) {
        /* The number as written would be best, but cJSON keeps a double: %.15g keeps
         * every amount a person writes exactly (up to 15 significant digits). */
        snprintf(buf, sizeof buf, "%.15g", v->valuedouble);
        text = buf;
      }
      if (!text) {
        rc = bad(err, "cash", "expected a decimal string or a number%s", "");
        break;
      }
      int len = (int)strlen(text);
      if (bt_dec_parse(text, len, &out->cash) != len || out->cash.v <= 0) {
        rc = bad(err, "cash", "'%.60s' is not a positive amount", text);
        break;
      }
      out->has_cash = true;
    } else {
      bool extra = false;
      for (int i = 0; allowed_extra && allowed_extra[i]; i++)
        if (strcmp(k, allowed_extra[i]) == 0) extra = true;
      if (!extra) rc = bad(err, k, "unknown field '%.60s'", k);
    }
  }
  if (!rc && !has_strategy) rc = bad(err, "strategy", "required%s", "");
  if (rc) bt_job_spec_clear(out);
  return rc;
}

int bt_job_spec_parse(const char *json, bt_job_spec *out, bt_err *err) {
  cJSON *o = cJSON_Parse(json ? json : "");
  if (!o) {
    memset(out, 0, sizeof *out);
    return bt_errf_at(err, BT_EINVAL, "invalid_request", "", 0, "", "job spec is not JSON");
  }
  int rc = bt_job_spec_from_cjson(o, NULL, out, err);
  cJSON_Delete(o);
  return rc;
}

char *bt_job_spec_to_json(const bt_job_spec *s) {
  cJSON *o = cJSON_CreateObject(), *data = cJSON_CreateArray(), *params = cJSON_CreateObject();
  char *text = NULL;
  if (o && data && params) {
    cJSON_AddStringToObject(o, "strategy", s->strategy);
    for (int i = 0; i < s->ndata; i++) cJSON_AddItemToArray(data, cJSON_CreateString(s->data[i]));
    cJSON_AddItemToObject(o, "data", data);
    data = NULL;
    /* Values go back as text: the worker hands them to the run as --param strings. */
    for (int i = 0; i < s->nparams; i++)
      cJSON_AddStringToObject(params, s->params[i].name, s->params[i].value);
    cJSON_AddItemToObject(o, "params", params);
    params = NULL;
    if (s->has_cash) {
      char dec[BT_DEC_STRLEN];
      bt_dec_format(s->cash, dec);
      cJSON_AddStringToObject(o, "cash", dec);
    }
    text = cJSON_PrintUnformatted(o);
  }
  cJSON_Delete(o);
  cJSON_Delete(data);
  cJSON_Delete(params);
  return text;
}

void bt_job_spec_clear(bt_job_spec *s) {
  for (int i = 0; i < s->nparams; i++) free(s->params[i].value);
  memset(s, 0, sizeof *s);
}
