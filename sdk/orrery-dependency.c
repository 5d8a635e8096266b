/* orrery-dependency.c: typed edges between tasks and their conditions.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Orrery-Constellation"

#include <math.h>
#include "orrery-constellation-private.h"

/**
 * OrreryCondition:
 *
 * Typed edges between tasks and their conditions.
 *
 * A condition is data, not code: a path into the prerequisite's result
 * (`exit_status`, `outputs.rows`, `items.0`), an operator and a value. It
 * is written to and read from JSON as
 * `{"field": "exit_status", "operator": "==", "value": 0}` or as the string
 * `"exit_status == 0"`.
 */
G_DEFINE_BOXED_TYPE (OrreryCondition, orrery_condition, orrery_condition_ref, orrery_condition_unref)
/**
 * OrreryDependency:
 *
 * A typed edge from a prerequisite task to a dependent one: unconditional
 * (the dependent runs once the prerequisite ended, whatever its outcome),
 * success-only, completion-only, or conditional on an #OrreryCondition
 * over the prerequisite's result. Immutable once made.
 */
G_DEFINE_BOXED_TYPE (OrreryDependency, orrery_dependency, orrery_dependency_ref, orrery_dependency_unref)

static const struct { const char *symbol; const char *nick; } operator_names[] = {
  [ORRERY_CONDITION_EQ] = { "==", "eq" },
  [ORRERY_CONDITION_NE] = { "!=", "ne" },
  [ORRERY_CONDITION_LT] = { "<", "lt" },
  [ORRERY_CONDITION_LE] = { "<=", "le" },
  [ORRERY_CONDITION_GT] = { ">", "gt" },
  [ORRERY_CONDITION_GE] = { ">=", "ge" },
  [ORRERY_CONDITION_EXISTS] = { "exists", "exists" },
  [ORRERY_CONDITION_TRUTHY] = { "truthy", "truthy" },
  [ORRERY_CONDITION_FALSY] = { "falsy", "falsy" },
};

#define OP_NEEDS_VALUE(op) ((op) <= ORRERY_CONDITION_GE)

/**
 * orrery_condition_operator_to_string:
 * @op: an operator
 *
 * Returns: (transfer none): the operator as written in files: `==`, `!=`,
 *   `<`, `<=`, `>`, `>=`, `exists`, `truthy` or `falsy`
 */
const char *
orrery_condition_operator_to_string (OrreryConditionOperator op)
{
  g_return_val_if_fail ((guint) op < G_N_ELEMENTS (operator_names), NULL);
  return operator_names[op].symbol;
}

/**
 * orrery_condition_operator_from_string:
 * @str: `==`, `!=`, `<`, `<=`, `>`, `>=`, `exists`, `truthy`, `falsy`, or
 *   the nicks `eq`, `ne`, `lt`, `le`, `gt`, `ge` in any case
 * @out_op: (out) (optional): where to store the operator
 *
 * Returns: whether @str names an operator
 */
gboolean
orrery_condition_operator_from_string (const char              *str,
                                       OrreryConditionOperator *out_op)
{
  g_return_val_if_fail (str != NULL, FALSE);
  for (guint i = 0; i < G_N_ELEMENTS (operator_names); i++)
    if (strcmp (str, operator_names[i].symbol) == 0 ||
        g_ascii_strcasecmp (str, operator_names[i].nick) == 0 ||
        (i == ORRERY_CONDITION_EQ && strcmp (str, "=") == 0))
      {
        if (out_op)
          *out_op = i;
        return TRUE;
      }
  return FALSE;
}

/**
 * orrery_condition_new:
 * @field: (nullable): a dotted path into the prerequisite's result, such
 *   as `exit_status` or `outputs.rows`; %NULL or empty for the result itself
 * @op: the comparison
 * @value: (nullable): the value to compare with (needed by the ordering and
 *   equality operators); a floating reference is sunk
 *
 * Creates a condition.
 *
 * Returns: (transfer full): a new condition
 */
OrreryCondition *
orrery_condition_new (const char              *field,
                      OrreryConditionOperator  op,
                      GVariant                *value)
{
  OrreryCondition *self;

  g_return_val_if_fail ((guint) op < G_N_ELEMENTS (operator_names), NULL);

  self = g_new0 (OrreryCondition, 1);
  self->ref_count = 1;
  self->op = op;
  self->field = (field && *field) ? g_strdup (field) : NULL;
  if (value)
    self->value = g_variant_ref_sink (value);
  return self;
}

/**
 * orrery_condition_ref:
 * @self: a condition
 *
 * Returns: (transfer full): @self
 */
OrreryCondition *
orrery_condition_ref (OrreryCondition *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_int_inc (&self->ref_count);
  return self;
}

/**
 * orrery_condition_unref:
 * @self: (transfer full): a condition
 *
 * Drops a reference.
 */
void
orrery_condition_unref (OrreryCondition *self)
{
  g_return_if_fail (self != NULL);
  if (!g_atomic_int_dec_and_test (&self->ref_count))
    return;
  g_free (self->field);
  g_clear_pointer (&self->value, g_variant_unref);
  g_free (self);
}

/**
 * orrery_condition_get_field:
 * @self: a condition
 *
 * Returns: (transfer none) (nullable): the path into the result; %NULL for
 *   the result itself
 */
const char *
orrery_condition_get_field (OrreryCondition *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->field;
}

/**
 * orrery_condition_get_operator:
 * @self: a condition
 *
 * Returns: the comparison
 */
OrreryConditionOperator
orrery_condition_get_operator (OrreryCondition *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->op;
}

/**
 * orrery_condition_get_value:
 * @self: a condition
 *
 * Returns: (transfer none) (nullable): the value compared with
 */
GVariant *
orrery_condition_get_value (OrreryCondition *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->value;
}

static GVariant *
unbox (GVariant *v)
{
  while (v && g_variant_is_of_type (v, G_VARIANT_TYPE_VARIANT))
    {
      GVariant *inner = g_variant_get_variant (v);

      g_variant_unref (v);
      v = inner;
    }
  return v;
}

/* Follows a dotted path; returns a new reference or NULL. */
static GVariant *
lookup_path (GVariant   *root,
             const char *path)
{
  GVariant *cur = unbox (g_variant_ref (root));
  const char *p = path;

  while (cur && p && *p)
    {
      const char *dot = strchr (p, '.');
      g_autofree char *seg = dot ? g_strndup (p, dot - p) : g_strdup (p);
      GVariant *next = NULL;

      p = dot ? dot + 1 : NULL;
      if (g_variant_is_of_type (cur, G_VARIANT_TYPE ("a{s*}")))
        next = g_variant_lookup_value (cur, seg, NULL);
      else if (g_variant_is_container (cur) && g_ascii_isdigit (seg[0]))
        {
          guint64 idx = g_ascii_strtoull (seg, NULL, 10);

          if (idx < g_variant_n_children (cur))
            next = g_variant_get_child_value (cur, idx);
        }
      g_variant_unref (cur);
      cur = unbox (next);
    }
  return cur;
}

static gboolean
variant_number (GVariant *v,
                gdouble  *out)
{
  switch (g_variant_classify (v))
    {
    case G_VARIANT_CLASS_BYTE: *out = g_variant_get_byte (v); return TRUE;
    case G_VARIANT_CLASS_INT16: *out = g_variant_get_int16 (v); return TRUE;
    case G_VARIANT_CLASS_UINT16: *out = g_variant_get_uint16 (v); return TRUE;
    case G_VARIANT_CLASS_INT32: *out = g_variant_get_int32 (v); return TRUE;
    case G_VARIANT_CLASS_UINT32: *out = g_variant_get_uint32 (v); return TRUE;
    case G_VARIANT_CLASS_INT64: *out = g_variant_get_int64 (v); return TRUE;
    case G_VARIANT_CLASS_UINT64: *out = g_variant_get_uint64 (v); return TRUE;
    case G_VARIANT_CLASS_DOUBLE: *out = g_variant_get_double (v); return TRUE;
    case G_VARIANT_CLASS_HANDLE: *out = g_variant_get_handle (v); return TRUE;
    default: return FALSE;
    }
}

static gboolean
variant_truthy (GVariant *v)
{
  gdouble d;

  if (v == NULL)
    return FALSE;
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_BOOLEAN))
    return g_variant_get_boolean (v);
  if (variant_number (v, &d))
    return d != 0;
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_STRING))
    return g_variant_get_string (v, NULL)[0] != '\0';
  if (g_variant_is_container (v))
    return g_variant_n_children (v) > 0;
  return TRUE;
}

/* -2 when the two cannot be compared. */
static int
variant_compare (GVariant *a,
                 GVariant *b)
{
  gdouble x, y;

  if (variant_number (a, &x) && variant_number (b, &y))
    return x < y ? -1 : x > y ? 1 : 0;
  if (g_variant_is_of_type (a, G_VARIANT_TYPE_STRING) && g_variant_is_of_type (b, G_VARIANT_TYPE_STRING))
    {
      int c = strcmp (g_variant_get_string (a, NULL), g_variant_get_string (b, NULL));
      return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
  if (g_variant_is_of_type (a, G_VARIANT_TYPE_BOOLEAN) && g_variant_is_of_type (b, G_VARIANT_TYPE_BOOLEAN))
    return (int) g_variant_get_boolean (a) - (int) g_variant_get_boolean (b);
  return -2;
}

/**
 * orrery_condition_evaluate:
 * @self: a condition
 * @result: (nullable): the prerequisite's result
 *
 * Evaluates the condition on a result. A missing field satisfies only
 * `!=` and `falsy`; values of kinds that cannot be ordered satisfy no
 * ordering operator.
 *
 * Returns: whether the condition holds
 */
gboolean
orrery_condition_evaluate (OrreryCondition *self,
                           GVariant        *result)
{
  g_autoptr(GVariant) field = NULL;
  g_autoptr(GVariant) value = NULL;
  int c;

  g_return_val_if_fail (self != NULL, FALSE);

  if (result)
    field = lookup_path (result, self->field);
  switch (self->op)
    {
    case ORRERY_CONDITION_EXISTS: return field != NULL;
    case ORRERY_CONDITION_TRUTHY: return variant_truthy (field);
    case ORRERY_CONDITION_FALSY: return !variant_truthy (field);
    default: break;
    }
  if (self->value == NULL)
    return FALSE;
  value = unbox (g_variant_ref (self->value));
  if (field == NULL)
    return self->op == ORRERY_CONDITION_NE;
  c = variant_compare (field, value);
  if (c == -2)
    {
      gboolean eq = g_variant_equal (field, value);
      if (self->op == ORRERY_CONDITION_EQ)
        return eq;
      if (self->op == ORRERY_CONDITION_NE)
        return !eq;
      return FALSE;
    }
  switch (self->op)
    {
    case ORRERY_CONDITION_EQ: return c == 0;
    case ORRERY_CONDITION_NE: return c != 0;
    case ORRERY_CONDITION_LT: return c < 0;
    case ORRERY_CONDITION_LE: return c <= 0;
    case ORRERY_CONDITION_GT: return c > 0;
    case ORRERY_CONDITION_GE: return c >= 0;
    default: return FALSE;
    }
}

static char *
value_to_json_text (GVariant *value)
{
  g_autoptr(JsonNode) node = json_gvariant_serialize (value);

  return json_to_string (node, FALSE);
}

/**
 * orrery_condition_to_string:
 * @self: a condition
 *
 * Returns: (transfer full): the condition as text, such as
 *   `exit_status == 0` or `outputs.flag truthy`; orrery_condition_parse()
 *   reads it back
 */
char *
orrery_condition_to_string (OrreryCondition *self)
{
  g_autofree char *value = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  if (self->value && OP_NEEDS_VALUE (self->op))
    value = value_to_json_text (self->value);
  return g_strdup_printf ("%s %s%s%s", self->field ? self->field : "result",
                          operator_names[self->op].symbol, value ? " " : "", value ? value : "");
}

/* The start of a long text, for messages. */
static char *
cut_text (const char *text)
{
  const char *end;

  if (strlen (text) <= 120)
    return g_strdup (text);
  end = g_utf8_find_prev_char (text, text + 120);
  return g_strdup_printf ("%.*s…", (int) ((end ? end : text + 120) - text), text);
}

/**
 * orrery_condition_parse:
 * @text: a condition such as `exit_status == 0`, `outputs.kind != "csv"` or
 *   `outputs.rows truthy`; the value is JSON; the field `result` means the
 *   whole result
 * @error: return location for an error in %ORRERY_CONSTELLATION_ERROR
 *
 * Reads a condition written by orrery_condition_to_string().
 *
 * Returns: (transfer full) (nullable): the condition, or %NULL with @error set
 */
OrreryCondition *
orrery_condition_parse (const char  *text,
                        GError     **error)
{
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) check = NULL;
  OrreryConditionOperator op;
  const char *field;
  const char *rest;
  gsize flen;

  g_return_val_if_fail (text != NULL, NULL);

  text += strspn (text, " \t");
  flen = strcspn (text, " \t=!<>");
  if (flen == 0)
    goto bad;
  rest = text + flen;
  rest += strspn (rest, " \t");
  {
    gsize olen = strspn (rest, "=!<>");
    g_autofree char *opstr = NULL;

    if (olen == 0)
      olen = strcspn (rest, " \t");
    opstr = g_strndup (rest, olen);
    if (!orrery_condition_operator_from_string (opstr, &op))
      goto bad;
    rest += olen;
    rest += strspn (rest, " \t");
  }
  if (OP_NEEDS_VALUE (op))
    {
      g_autoptr(JsonNode) node = NULL;

      if (*rest == '\0')
        goto bad;
      /* json-glib must not see a value too deep for its stack, nor one
       * that would decode to a NUL or to text that is not UTF-8. */
      if (!_orrery_json_check_text (rest, strlen (rest), NULL, ORRERY_CONSTELLATION_MAX_DEPTH,
                                    NULL, &check))
        {
          g_autofree char *shown = cut_text (text);

          g_set_error (error, ORRERY_CONSTELLATION_ERROR, check->code,
                       "“%s” is not a condition: its value at %s", shown, check->message);
          return NULL;
        }
      node = json_from_string (rest, NULL);
      if (node == NULL)
        /* A bare word compares as a string. */
        value = g_variant_new_string (rest);
      else
        value = json_gvariant_deserialize (node, NULL, NULL);
      if (value)
        g_variant_ref_sink (value);
      if (value == NULL)
        goto bad;
    }
  else if (*rest != '\0')
    goto bad;

  {
    g_autofree char *f = g_strndup (text, flen);
    field = strcmp (f, "result") == 0 ? NULL : f;
    return orrery_condition_new (field, op, value);
  }

bad:
  {
    g_autofree char *shown = cut_text (text);

    g_set_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_BAD_CONDITION,
                 "“%s” is not a condition (expected FIELD OP VALUE with OP one of ==, !=, <, <=, >, >=, "
                 "or FIELD exists|truthy|falsy)", shown);
  }
  return NULL;
}

/**
 * orrery_condition_equal:
 * @a: a condition
 * @b: another condition
 *
 * Returns: whether the two conditions are the same
 */
gboolean
orrery_condition_equal (OrreryCondition *a,
                        OrreryCondition *b)
{
  if (a == b)
    return TRUE;
  if (a == NULL || b == NULL)
    return FALSE;
  if (a->op != b->op || g_strcmp0 (a->field, b->field) != 0)
    return FALSE;
  if ((a->value == NULL) != (b->value == NULL))
    return FALSE;
  return a->value == NULL || g_variant_equal (a->value, b->value);
}

JsonNode *
_orrery_condition_to_json (OrreryCondition *cond)
{
  JsonObject *obj = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_object_set_string_member (obj, "field", cond->field ? cond->field : "");
  json_object_set_string_member (obj, "operator", operator_names[cond->op].symbol);
  if (cond->value)
    json_object_set_member (obj, "value", json_gvariant_serialize (cond->value));
  json_node_take_object (node, obj);
  return node;
}

OrreryCondition *
_orrery_condition_from_json (JsonNode   *node,
                             const char *where,
                             GError    **error)
{
  JsonObject *obj;
  JsonNode *m;
  const char *field = NULL;
  const char *opstr = NULL;
  OrreryConditionOperator op;
  g_autoptr(GVariant) value = NULL;

  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    {
      g_autoptr(GError) local = NULL;
      OrreryCondition *c = orrery_condition_parse (json_node_get_string (node), &local);

      if (c == NULL)
        g_set_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_BAD_CONDITION,
                     "%s: %s", where, local->message);
      return c;
    }
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_WRONG_TYPE,
                   "%s: wrong type: a condition is an object {\"field\", \"operator\", \"value\"} "
                   "or a string such as \"exit_status == 0\"", where);
      return NULL;
    }
  obj = json_node_get_object (node);
  if ((m = json_object_get_member (obj, "field")) != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (m) || json_node_get_value_type (m) != G_TYPE_STRING)
        goto wrong;
      field = json_node_get_string (m);
    }
  m = json_object_get_member (obj, "operator");
  if (m == NULL)
    m = json_object_get_member (obj, "op");
  if (m == NULL)
    {
      g_set_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_MISSING_FIELD,
                   "%s: missing field: a condition needs an \"operator\"", where);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (m) || json_node_get_value_type (m) != G_TYPE_STRING)
    goto wrong;
  opstr = json_node_get_string (m);
  if (!orrery_condition_operator_from_string (opstr, &op))
    {
      g_set_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_BAD_ENUM,
                   "%s.operator: unknown operator “%s” (expected ==, !=, <, <=, >, >=, exists, truthy, falsy)",
                   where, opstr);
      return NULL;
    }
  if ((m = json_object_get_member (obj, "value")) != NULL && !JSON_NODE_HOLDS_NULL (m))
    {
      value = json_gvariant_deserialize (m, NULL, NULL);
      if (value)
        g_variant_ref_sink (value);
      if (value == NULL)
        goto wrong;
    }
  if (OP_NEEDS_VALUE (op) && value == NULL)
    {
      g_set_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_BAD_CONDITION,
                   "%s: operator “%s” needs a \"value\"", where, opstr);
      return NULL;
    }
  return orrery_condition_new (field, op, value);

wrong:
  g_set_error (error, ORRERY_CONSTELLATION_ERROR, ORRERY_CONSTELLATION_ERROR_WRONG_TYPE,
               "%s: wrong type: \"field\" and \"operator\" are strings", where);
  return NULL;
}

/* Dependencies */

OrreryDependency *
_orrery_dependency_new (OrreryTask           *from,
                        OrreryTask           *to,
                        OrreryDependencyType  type,
                        OrreryCondition      *condition)
{
  OrreryDependency *self = g_new0 (OrreryDependency, 1);

  self->ref_count = 1;
  self->type = type;
  self->from = g_object_ref (from);
  self->to = g_object_ref (to);
  if (condition)
    self->condition = orrery_condition_ref (condition);
  return self;
}

/**
 * orrery_dependency_ref:
 * @self: a dependency
 *
 * Returns: (transfer full): @self
 */
OrreryDependency *
orrery_dependency_ref (OrreryDependency *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_int_inc (&self->ref_count);
  return self;
}

/**
 * orrery_dependency_unref:
 * @self: (transfer full): a dependency
 *
 * Drops a reference.
 */
void
orrery_dependency_unref (OrreryDependency *self)
{
  g_return_if_fail (self != NULL);
  if (!g_atomic_int_dec_and_test (&self->ref_count))
    return;
  g_object_unref (self->from);
  g_object_unref (self->to);
  g_clear_pointer (&self->condition, orrery_condition_unref);
  g_free (self->line_id);
  g_free (self->condition_description);
  g_clear_pointer (&self->extra, json_object_unref);
  g_free (self);
}

/**
 * orrery_dependency_get_from_task_id:
 * @self: a dependency
 *
 * Returns: (transfer none): the id of the prerequisite
 */
const char *
orrery_dependency_get_from_task_id (OrreryDependency *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->from->id;
}

/**
 * orrery_dependency_get_to_task_id:
 * @self: a dependency
 *
 * Returns: (transfer none): the id of the dependent task
 */
const char *
orrery_dependency_get_to_task_id (OrreryDependency *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->to->id;
}

/**
 * orrery_dependency_get_dependency_type:
 * @self: a dependency
 *
 * Returns: the kind of edge
 */
OrreryDependencyType
orrery_dependency_get_dependency_type (OrreryDependency *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->type;
}

/**
 * orrery_dependency_get_condition:
 * @self: a dependency
 *
 * Returns: (transfer none) (nullable): the condition of a conditional edge
 */
OrreryCondition *
orrery_dependency_get_condition (OrreryDependency *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->condition;
}

const char *
_orrery_dependency_peek_line_id (OrreryDependency *dep)
{
  return dep->line_id;
}

/**
 * orrery_dependency_get_line_id:
 * @self: a dependency
 *
 * Returns: (transfer none): the edge's id (UFO's `line_id`); `FROM->TO`
 *   when none was given
 */
const char *
orrery_dependency_get_line_id (OrreryDependency *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  if (self->line_id == NULL)
    self->line_id = g_strdup_printf ("%s->%s", self->from->id, self->to->id);
  return self->line_id;
}

/**
 * orrery_dependency_get_condition_description:
 * @self: a dependency
 *
 * Returns: (transfer none) (nullable): the condition in natural language
 *   (UFO's `condition_description`), for people; not evaluated
 */
const char *
orrery_dependency_get_condition_description (OrreryDependency *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->condition_description;
}

/**
 * orrery_dependency_is_resolved:
 * @self: a dependency
 *
 * Returns: whether the prerequisite has finished, so the edge is decided
 */
gboolean
orrery_dependency_is_resolved (OrreryDependency *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return self->state != EDGE_PENDING;
}

/**
 * orrery_dependency_is_satisfied:
 * @self: a dependency
 *
 * Returns: whether the prerequisite has finished in a way that lets the
 *   dependent run
 */
gboolean
orrery_dependency_is_satisfied (OrreryDependency *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return self->state == EDGE_SATISFIED;
}

gboolean
_orrery_dependency_evaluate (OrreryDependency *dep)
{
  OrreryTask *from = dep->from;

  switch ((OrreryDependencyType) dep->type)
    {
    case ORRERY_DEPENDENCY_UNCONDITIONAL:
    case ORRERY_DEPENDENCY_COMPLETION_ONLY:
      return TRUE;
    case ORRERY_DEPENDENCY_SUCCESS_ONLY:
      return from->state.status == ORRERY_TASK_STATUS_COMPLETED;
    case ORRERY_DEPENDENCY_CONDITIONAL:
      if (dep->condition == NULL)
        return from->state.status == ORRERY_TASK_STATUS_COMPLETED;
      return orrery_condition_evaluate (dep->condition, from->state.result);
    default:
      return FALSE;
    }
}

/**
 * orrery_dependency_type_to_nick:
 * @type: a dependency type
 *
 * Returns: (transfer none): the nick of @type, such as `success-only`
 */
const char *
orrery_dependency_type_to_nick (OrreryDependencyType type)
{
  const char *nick = _orrery_enum_to_nick (ORRERY_TYPE_DEPENDENCY_TYPE, type);

  g_return_val_if_fail (nick != NULL, NULL);
  return nick;
}

/**
 * orrery_dependency_type_from_string:
 * @str: a type name in any case: `SUCCESS_ONLY`, `success_only`, `success-only`
 * @out_type: (out) (optional): where to store the type
 *
 * Returns: whether @str names a dependency type
 */
gboolean
orrery_dependency_type_from_string (const char           *str,
                                    OrreryDependencyType *out_type)
{
  gint value;

  g_return_val_if_fail (str != NULL, FALSE);
  if (!_orrery_enum_from_nick (ORRERY_TYPE_DEPENDENCY_TYPE, str, &value))
    return FALSE;
  if (out_type)
    *out_type = value;
  return TRUE;
}
