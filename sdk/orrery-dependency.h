/* orrery-dependency.h: typed edges between tasks and their conditions.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ORRERY_INSIDE) && !defined(ORRERY_COMPILATION)
#error "Only <orrery.h> can be included directly."
#endif

#include <gio/gio.h>
#include "orrery-types.h"

G_BEGIN_DECLS

/**
 * OrreryConditionOperator:
 * @ORRERY_CONDITION_EQ: the field equals the value (`==`)
 * @ORRERY_CONDITION_NE: the field differs from the value, or is missing (`!=`)
 * @ORRERY_CONDITION_LT: the field is less than the value (`<`)
 * @ORRERY_CONDITION_LE: the field is less than or equal to the value (`<=`)
 * @ORRERY_CONDITION_GT: the field is greater than the value (`>`)
 * @ORRERY_CONDITION_GE: the field is greater than or equal to the value (`>=`)
 * @ORRERY_CONDITION_EXISTS: the field is present (`exists`)
 * @ORRERY_CONDITION_TRUTHY: the field is present and true, non-zero or
 *   non-empty (`truthy`)
 * @ORRERY_CONDITION_FALSY: the field is missing, false, zero or empty (`falsy`)
 *
 * How an #OrreryCondition compares a field of the prerequisite's result.
 * Numbers compare as numbers whatever their width, strings as strings.
 */
typedef enum {
  ORRERY_CONDITION_EQ,
  ORRERY_CONDITION_NE,
  ORRERY_CONDITION_LT,
  ORRERY_CONDITION_LE,
  ORRERY_CONDITION_GT,
  ORRERY_CONDITION_GE,
  ORRERY_CONDITION_EXISTS,
  ORRERY_CONDITION_TRUTHY,
  ORRERY_CONDITION_FALSY,
} OrreryConditionOperator;

#define ORRERY_TYPE_CONDITION (orrery_condition_get_type ())
#define ORRERY_TYPE_DEPENDENCY (orrery_dependency_get_type ())

typedef struct _OrreryCondition OrreryCondition;
typedef struct _OrreryDependency OrreryDependency;

ORRERY_EXPORT
GType                    orrery_condition_get_type        (void) G_GNUC_CONST;
ORRERY_EXPORT
OrreryCondition         *orrery_condition_new             (const char              *field,
                                                           OrreryConditionOperator  op,
                                                           GVariant                *value);
ORRERY_EXPORT
OrreryCondition         *orrery_condition_parse           (const char              *text,
                                                           GError                 **error);
ORRERY_EXPORT
OrreryCondition         *orrery_condition_ref             (OrreryCondition         *self);
ORRERY_EXPORT
void                     orrery_condition_unref           (OrreryCondition         *self);
ORRERY_EXPORT
const char              *orrery_condition_get_field       (OrreryCondition         *self);
ORRERY_EXPORT
OrreryConditionOperator  orrery_condition_get_operator    (OrreryCondition         *self);
ORRERY_EXPORT
GVariant                *orrery_condition_get_value       (OrreryCondition         *self);
ORRERY_EXPORT
gboolean                 orrery_condition_evaluate        (OrreryCondition         *self,
                                                           GVariant                *result);
ORRERY_EXPORT
char                    *orrery_condition_to_string       (OrreryCondition         *self);
ORRERY_EXPORT
gboolean                 orrery_condition_equal           (OrreryCondition         *a,
                                                           OrreryCondition         *b);
ORRERY_EXPORT
const char              *orrery_condition_operator_to_string (OrreryConditionOperator op);
ORRERY_EXPORT
gboolean                 orrery_condition_operator_from_string (const char              *str,
                                                                OrreryConditionOperator *out_op);

ORRERY_EXPORT
GType                    orrery_dependency_get_type       (void) G_GNUC_CONST;
ORRERY_EXPORT
OrreryDependency        *orrery_dependency_ref            (OrreryDependency        *self);
ORRERY_EXPORT
void                     orrery_dependency_unref          (OrreryDependency        *self);
ORRERY_EXPORT
const char              *orrery_dependency_get_from_task_id (OrreryDependency      *self);
ORRERY_EXPORT
const char              *orrery_dependency_get_to_task_id (OrreryDependency        *self);
ORRERY_EXPORT
OrreryDependencyType     orrery_dependency_get_dependency_type (OrreryDependency   *self);
ORRERY_EXPORT
OrreryCondition         *orrery_dependency_get_condition  (OrreryDependency        *self);
ORRERY_EXPORT
const char              *orrery_dependency_get_line_id    (OrreryDependency        *self);
ORRERY_EXPORT
const char              *orrery_dependency_get_condition_description (OrreryDependency *self);
ORRERY_EXPORT
gboolean                 orrery_dependency_is_satisfied   (OrreryDependency        *self);
ORRERY_EXPORT
gboolean                 orrery_dependency_is_resolved    (OrreryDependency        *self);

ORRERY_EXPORT
const char              *orrery_dependency_type_to_nick   (OrreryDependencyType     type);
ORRERY_EXPORT
gboolean                 orrery_dependency_type_from_string (const char            *str,
                                                             OrreryDependencyType  *out_type);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (OrreryCondition, orrery_condition_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (OrreryDependency, orrery_dependency_unref)

G_END_DECLS
