/*
 * steps.c - the step table (generated from terraform-compliance-step-patterns.tsv) and the
 * binder that picks a pattern for a feature-file line.
 */
#include "policy/steps.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "policy/regex.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/banned.h"

/* clang-format off */
const struct mi_step_def mi_step_defs[] = {
    {1, "Given", "Given I have {name:ANY} {type_name:SECTION} configured", "Given I have (?P<name>.+) (?P<type_name>[\\\"'a-z]+) configured", F_GIVEN, 0, "name:ANY,type_name:SECTION", 15},
    {2, "Given", "Given I have {name:ANY} defined", "Given I have (?P<name>.+) defined", F_GIVEN, 0, "name:ANY", 283},
    {3, "When", "When its {key:PROPERTY} metadata includes {value:PROPERTY}", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) metadata includes (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_META_HAS, 0, "key:PROPERTY,value:PROPERTY", 0},
    {4, "When", "When its {key:PROPERTY} metadata contains {value:PROPERTY}", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) metadata contains (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_META_HAS, 0, "key:PROPERTY,value:PROPERTY", 0},
    {5, "When", "When its {key:PROPERTY} metadata is {value:PROPERTY}", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) metadata is (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_META_HAS, 0, "key:PROPERTY,value:PROPERTY", 5},
    {6, "When", "When its {key:PROPERTY} metadata has {value:PROPERTY}", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) metadata has (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_META_HAS, 0, "key:PROPERTY,value:PROPERTY", 6},
    {7, "When", "When its {key:PROPERTY} metadata includes \"{search_regex}\" regex", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) metadata includes \"(?P<search_regex>.+?)\" regex", F_META_HAS, V_REGEX, "key:PROPERTY,search_regex:RAW", 0},
    {8, "When", "When its {key:PROPERTY} metadata contains \"{search_regex}\" regex", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) metadata contains \"(?P<search_regex>.+?)\" regex", F_META_HAS, V_REGEX, "key:PROPERTY,search_regex:RAW", 0},
    {9, "When", "When its {key:PROPERTY} metadata is \"{search_regex}\" regex", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) metadata is \"(?P<search_regex>.+?)\" regex", F_META_HAS, V_REGEX, "key:PROPERTY,search_regex:RAW", 1},
    {10, "When", "When its {key:PROPERTY} metadata has \"{search_regex}\" regex", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) metadata has \"(?P<search_regex>.+?)\" regex", F_META_HAS, V_REGEX, "key:PROPERTY,search_regex:RAW", 0},
    {11, "When", "When its {key:PROPERTY} metadata does not include {value:PROPERTY}", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) metadata does not include (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_META_HAS_NOT, 0, "key:PROPERTY,value:PROPERTY", 0},
    {12, "When", "When its {key:PROPERTY} metadata does not contain {value:PROPERTY}", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) metadata does not contain (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_META_HAS_NOT, 0, "key:PROPERTY,value:PROPERTY", 0},
    {13, "When", "When its {key:PROPERTY} metadata does not have {value:PROPERTY}", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) metadata does not have (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_META_HAS_NOT, 0, "key:PROPERTY,value:PROPERTY", 3},
    {14, "When", "When its {key:PROPERTY} metadata is not {value:PROPERTY}", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) metadata is not (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_META_HAS_NOT, 0, "key:PROPERTY,value:PROPERTY", 0},
    {15, "When", "When its {key:PROPERTY} metadata has not {value:PROPERTY}", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) metadata has not (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_META_HAS_NOT, 0, "key:PROPERTY,value:PROPERTY", 0},
    {16, "When", "When its {key:PROPERTY} metadata does not include \"{search_regex}\" regex", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) metadata does not include \"(?P<search_regex>.+?)\" regex", F_META_HAS_NOT, V_REGEX, "key:PROPERTY,search_regex:RAW", 0},
    {17, "When", "When its {key:PROPERTY} metadata does not contain \"{search_regex}\" regex", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) metadata does not contain \"(?P<search_regex>.+?)\" regex", F_META_HAS_NOT, V_REGEX, "key:PROPERTY,search_regex:RAW", 0},
    {18, "When", "When its {key:PROPERTY} metadata does not have \"{search_regex}\" regex", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) metadata does not have \"(?P<search_regex>.+?)\" regex", F_META_HAS_NOT, V_REGEX, "key:PROPERTY,search_regex:RAW", 0},
    {19, "When", "When its {key:PROPERTY} metadata is not \"{search_regex}\" regex", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) metadata is not \"(?P<search_regex>.+?)\" regex", F_META_HAS_NOT, V_REGEX, "key:PROPERTY,search_regex:RAW", 0},
    {20, "When", "When its {key:PROPERTY} metadata has not \"{search_regex}\" regex", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) metadata has not \"(?P<search_regex>.+?)\" regex", F_META_HAS_NOT, V_REGEX, "key:PROPERTY,search_regex:RAW", 0},
    {21, "When", "When its {key:PROPERTY} includes an entry where {value:PROPERTY} is {dict_value:PROPERTY}", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) includes an entry where (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) is (?P<dict_value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_KEY_IS, 0, "key:PROPERTY,value:PROPERTY,dict_value:PROPERTY", 3},
    {22, "When", "When its {address:PROPERTY} {key:PROPERTY} contains {value:PROPERTY}", "When its (?P<address>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) contains (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_KEY_IS, 0, "address:PROPERTY,key:PROPERTY,value:PROPERTY", 0},
    {23, "When", "When its {address:PROPERTY} {key:PROPERTY} includes {value:PROPERTY}", "When its (?P<address>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) includes (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_KEY_IS, 0, "address:PROPERTY,key:PROPERTY,value:PROPERTY", 0},
    {24, "When", "When its {address:PROPERTY} {key:PROPERTY} has {value:PROPERTY}", "When its (?P<address>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) has (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_KEY_IS, 0, "address:PROPERTY,key:PROPERTY,value:PROPERTY", 0},
    {25, "When", "When its {address:PROPERTY} {key:PROPERTY} is {value:PROPERTY}", "When its (?P<address>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) is (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_KEY_IS, 0, "address:PROPERTY,key:PROPERTY,value:PROPERTY", 11},
    {26, "When", "When its {key:PROPERTY} contains {value:PROPERTY}", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) contains (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_KEY_IS, 0, "key:PROPERTY,value:PROPERTY", 1},
    {27, "When", "When its {key:PROPERTY} includes {value:PROPERTY}", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) includes (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_KEY_IS, 0, "key:PROPERTY,value:PROPERTY", 2},
    {28, "When", "When its {key:PROPERTY} has {value:PROPERTY}", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) has (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_KEY_IS, 0, "key:PROPERTY,value:PROPERTY", 0},
    {29, "When", "When its {key:PROPERTY} is {value:PROPERTY}", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) is (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_KEY_IS, 0, "key:PROPERTY,value:PROPERTY", 67},
    {30, "When", "When its {key:PROPERTY} includes an entry where {value:PROPERTY} is \"{dict_value}\" regex", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) includes an entry where (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) is \"(?P<dict_value>.+?)\" regex", F_KEY_IS, V_REGEX, "key:PROPERTY,value:PROPERTY,dict_value:RAW", 0},
    {31, "When", "When its {address:PROPERTY} {key:PROPERTY} contains \"{search_regex}\" regex", "When its (?P<address>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) contains \"(?P<search_regex>.+?)\" regex", F_KEY_IS, V_REGEX, "address:PROPERTY,key:PROPERTY,search_regex:RAW", 0},
    {32, "When", "When its {address:PROPERTY} {key:PROPERTY} includes \"{search_regex}\" regex", "When its (?P<address>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) includes \"(?P<search_regex>.+?)\" regex", F_KEY_IS, V_REGEX, "address:PROPERTY,key:PROPERTY,search_regex:RAW", 0},
    {33, "When", "When its {address:PROPERTY} {key:PROPERTY} has \"{search_regex}\" regex", "When its (?P<address>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) has \"(?P<search_regex>.+?)\" regex", F_KEY_IS, V_REGEX, "address:PROPERTY,key:PROPERTY,search_regex:RAW", 0},
    {34, "When", "When its {address:PROPERTY} {key:PROPERTY} is \"{search_regex}\" regex", "When its (?P<address>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) is \"(?P<search_regex>.+?)\" regex", F_KEY_IS, V_REGEX, "address:PROPERTY,key:PROPERTY,search_regex:RAW", 0},
    {35, "When", "When its {key:PROPERTY} contains \"{search_regex}\" regex", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) contains \"(?P<search_regex>.+?)\" regex", F_KEY_IS, V_REGEX, "key:PROPERTY,search_regex:RAW", 0},
    {36, "When", "When its {key:PROPERTY} includes \"{search_regex}\" regex", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) includes \"(?P<search_regex>.+?)\" regex", F_KEY_IS, V_REGEX, "key:PROPERTY,search_regex:RAW", 0},
    {37, "When", "When its {key:PROPERTY} has \"{search_regex}\" regex", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) has \"(?P<search_regex>.+?)\" regex", F_KEY_IS, V_REGEX, "key:PROPERTY,search_regex:RAW", 2},
    {38, "When", "When its {key:PROPERTY} is \"{search_regex}\" regex", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) is \"(?P<search_regex>.+?)\" regex", F_KEY_IS, V_REGEX, "key:PROPERTY,search_regex:RAW", 0},
    {39, "When", "When its {key:PROPERTY} does not include an entry where {value:PROPERTY} is {dict_value:PROPERTY}", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) does not include an entry where (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) is (?P<dict_value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_KEY_IS_NOT, 0, "key:PROPERTY,value:PROPERTY,dict_value:PROPERTY", 3},
    {40, "When", "When its {address:PROPERTY} {key:PROPERTY} does not contain {value:PROPERTY}", "When its (?P<address>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) does not contain (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_KEY_IS_NOT, 0, "address:PROPERTY,key:PROPERTY,value:PROPERTY", 0},
    {41, "When", "When its {address:PROPERTY} {key:PROPERTY} does not include {value:PROPERTY}", "When its (?P<address>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) does not include (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_KEY_IS_NOT, 0, "address:PROPERTY,key:PROPERTY,value:PROPERTY", 0},
    {42, "When", "When its {address:PROPERTY} {key:PROPERTY} has not {value:PROPERTY}", "When its (?P<address>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) has not (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_KEY_IS_NOT, 0, "address:PROPERTY,key:PROPERTY,value:PROPERTY", 0},
    {43, "When", "When its {address:PROPERTY} {key:PROPERTY} is not {value:PROPERTY}", "When its (?P<address>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) is not (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_KEY_IS_NOT, 0, "address:PROPERTY,key:PROPERTY,value:PROPERTY", 2},
    {44, "When", "When its {key:PROPERTY} does not contain {value:PROPERTY}", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) does not contain (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_KEY_IS_NOT, 0, "key:PROPERTY,value:PROPERTY", 0},
    {45, "When", "When its {key:PROPERTY} does not include {value:PROPERTY}", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) does not include (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_KEY_IS_NOT, 0, "key:PROPERTY,value:PROPERTY", 6},
    {46, "When", "When its {key:PROPERTY} has not {value:PROPERTY}", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) has not (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_KEY_IS_NOT, 0, "key:PROPERTY,value:PROPERTY", 0},
    {47, "When", "When its {key:PROPERTY} is not {value:PROPERTY}", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) is not (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_KEY_IS_NOT, 0, "key:PROPERTY,value:PROPERTY", 9},
    {48, "When", "When its {key:PROPERTY} does not include an entry where {value:PROPERTY} is \"{dict_value}\" regex", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) does not include an entry where (?P<value>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) is \"(?P<dict_value>.+?)\" regex", F_KEY_IS_NOT, V_REGEX, "key:PROPERTY,value:PROPERTY,dict_value:RAW", 0},
    {49, "When", "When its {address:PROPERTY} {key:PROPERTY} does not contain \"{search_regex}\" regex", "When its (?P<address>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) does not contain \"(?P<search_regex>.+?)\" regex", F_KEY_IS_NOT, V_REGEX, "address:PROPERTY,key:PROPERTY,search_regex:RAW", 0},
    {50, "When", "When its {address:PROPERTY} {key:PROPERTY} does not include \"{search_regex}\" regex", "When its (?P<address>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) does not include \"(?P<search_regex>.+?)\" regex", F_KEY_IS_NOT, V_REGEX, "address:PROPERTY,key:PROPERTY,search_regex:RAW", 0},
    {51, "When", "When its {address:PROPERTY} {key:PROPERTY} has not \"{search_regex}\" regex", "When its (?P<address>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) has not \"(?P<search_regex>.+?)\" regex", F_KEY_IS_NOT, V_REGEX, "address:PROPERTY,key:PROPERTY,search_regex:RAW", 0},
    {52, "When", "When its {address:PROPERTY} {key:PROPERTY} is not \"{search_regex}\" regex", "When its (?P<address>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) is not \"(?P<search_regex>.+?)\" regex", F_KEY_IS_NOT, V_REGEX, "address:PROPERTY,key:PROPERTY,search_regex:RAW", 0},
    {53, "When", "When its {key:PROPERTY} does not contain \"{search_regex}\" regex", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) does not contain \"(?P<search_regex>.+?)\" regex", F_KEY_IS_NOT, V_REGEX, "key:PROPERTY,search_regex:RAW", 0},
    {54, "When", "When its {key:PROPERTY} does not include \"{search_regex}\" regex", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) does not include \"(?P<search_regex>.+?)\" regex", F_KEY_IS_NOT, V_REGEX, "key:PROPERTY,search_regex:RAW", 0},
    {55, "When", "When its {key:PROPERTY} has not \"{search_regex}\" regex", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) has not \"(?P<search_regex>.+?)\" regex", F_KEY_IS_NOT, V_REGEX, "key:PROPERTY,search_regex:RAW", 0},
    {56, "When", "When its {key:PROPERTY} is not \"{search_regex}\" regex", "When its (?P<key>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) is not \"(?P<search_regex>.+?)\" regex", F_KEY_IS_NOT, V_REGEX, "key:PROPERTY,search_regex:RAW", 0},
    {57, "When", "When it contains {something:PROPERTY}", "When it contains (?P<something>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_IT_CONTAINS, 0, "something:PROPERTY", 61},
    {58, "When", "When it contain {something:PROPERTY}", "When it contain (?P<something>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_IT_CONTAINS, 0, "something:PROPERTY", 1},
    {59, "When", "When they have {something:PROPERTY}", "When they have (?P<something>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_IT_HAS, 0, "something:PROPERTY", 0},
    {60, "When", "When it has {something:PROPERTY}", "When it has (?P<something>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_IT_HAS, 0, "something:PROPERTY", 26},
    {61, "When", "When it doesnt have {something:PROPERTY}", "When it doesnt have (?P<something>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_IT_HAS_NOT, 0, "something:PROPERTY", 0},
    {62, "When", "When it does not have {something:PROPERTY}", "When it does not have (?P<something>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_IT_HAS_NOT, 0, "something:PROPERTY", 5},
    {63, "When", "When they dont have {something:PROPERTY}", "When they dont have (?P<something>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_IT_HAS_NOT, 0, "something:PROPERTY", 0},
    {64, "When", "When they do not have {something:PROPERTY}", "When they do not have (?P<something>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_IT_HAS_NOT, 0, "something:PROPERTY", 0},
    {65, "When", "When it doesnt contain {something:PROPERTY}", "When it doesnt contain (?P<something>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_IT_HAS_NOT, 0, "something:PROPERTY", 0},
    {66, "When", "When it does not contain {something:PROPERTY}", "When it does not contain (?P<something>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+))", F_IT_HAS_NOT, 0, "something:PROPERTY", 0},
    {67, "Then", "Then it must have \"{reference_address}\" referenced", "Then it must have \"(?P<reference_address>.+?)\" referenced", F_REFERENCED, 0, "reference_address:RAW", 2},
    {68, "Then", "Then it {condition:ANY} have {proto} protocol and port {port} for {cidr:ANY}", "Then it (?P<condition>.+) have (?P<proto>.+?) protocol and port (?P<port>.+?) for (?P<cidr>.+)", F_SG, 0, "condition:ANY,proto:RAW,port:RAW,cidr:ANY", 18},
    {69, "Then", "Then they must have {something:PROPERTY_COMPAT}", "Then they must have (?P<something>([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\s[\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+$)|(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\"$)|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+$))", F_MUST_CONTAIN, 0, "something:PROPERTY_COMPAT", 0},
    {70, "Then", "Then they must contain {something:PROPERTY_COMPAT}", "Then they must contain (?P<something>([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\s[\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+$)|(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\"$)|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+$))", F_MUST_CONTAIN, 0, "something:PROPERTY_COMPAT", 0},
    {71, "Then", "Then it must have {something:PROPERTY_COMPAT}", "Then it must have (?P<something>([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\s[\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+$)|(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\"$)|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+$))", F_MUST_CONTAIN, 0, "something:PROPERTY_COMPAT", 68},
    {72, "Then", "Then it must contain {something:PROPERTY_COMPAT}", "Then it must contain (?P<something>([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\s[\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+$)|(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\"$)|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+$))", F_MUST_CONTAIN, 0, "something:PROPERTY_COMPAT", 103},
    {73, "Then", "Then they must not have {something:PROPERTY_COMPAT}", "Then they must not have (?P<something>([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\s[\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+$)|(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\"$)|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+$))", F_MUST_NOT_CONTAIN, 0, "something:PROPERTY_COMPAT", 0},
    {74, "Then", "Then it must not have {something:PROPERTY_COMPAT}", "Then it must not have (?P<something>([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\s[\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+$)|(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\"$)|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+$))", F_MUST_NOT_CONTAIN, 0, "something:PROPERTY_COMPAT", 1},
    {75, "Then", "Then they must not contain {something:PROPERTY_COMPAT}", "Then they must not contain (?P<something>([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\s[\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+$)|(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\"$)|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+$))", F_MUST_NOT_CONTAIN, 0, "something:PROPERTY_COMPAT", 0},
    {76, "Then", "Then it must not contain {something:PROPERTY_COMPAT}", "Then it must not contain (?P<something>([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\s[\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+$)|(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\"$)|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+$))", F_MUST_NOT_CONTAIN, 0, "something:PROPERTY_COMPAT", 6},
    {77, "Then", "Then {something:ANY} must be enabled", "Then (?P<something>.+) must be enabled", F_ENABLED, 0, "something:ANY", 10},
    {78, "Then", "Then {something:ANY} is be enabled", "Then (?P<something>.+) is be enabled", F_ENABLED, 0, "something:ANY", 0},
    {79, "Then", "Then {something:ANY} is enabled", "Then (?P<something>.+) is enabled", F_ENABLED, 0, "something:ANY", 2},
    {80, "When", "When I {action_type:PROPERTY} the value", "When I (?P<action_type>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) the value", F_ACTION, 0, "action_type:PROPERTY", 0},
    {81, "When", "When I {action_type:PROPERTY} them", "When I (?P<action_type>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) them", F_ACTION, 0, "action_type:PROPERTY", 8},
    {82, "When", "When I {action_type:PROPERTY} it", "When I (?P<action_type>(\\\"[\\s\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+\\\")|([\\*\\.\\/_\\-A-Za-z0-9:\\(\\)\\[\\]\\']+)) it", F_ACTION, 0, "action_type:PROPERTY", 0},
    {83, "Then", "Then I expect the result is {operator:ANY} to {number:d}", "Then I expect the result is (?P<operator>.+) to (?P<number>[-+ ]?\\d+|[-+ ]?0[xX][0-9a-fA-F]+|[-+ ]?0[bB][01]+|[-+ ]?0[oO][0-7]+)", F_EXPECT, 0, "operator:ANY,number:d", 5},
    {84, "Then", "Then its value must be {operator:ANY} to {number:d}", "Then its value must be (?P<operator>.+) to (?P<number>[-+ ]?\\d+|[-+ ]?0[xX][0-9a-fA-F]+|[-+ ]?0[bB][01]+|[-+ ]?0[oO][0-7]+)", F_EXPECT, 0, "operator:ANY,number:d", 3},
    {85, "Then", "Then I expect the result is {operator:ANY} than {number:d}", "Then I expect the result is (?P<operator>.+) than (?P<number>[-+ ]?\\d+|[-+ ]?0[xX][0-9a-fA-F]+|[-+ ]?0[bB][01]+|[-+ ]?0[oO][0-7]+)", F_EXPECT, 0, "operator:ANY,number:d", 0},
    {86, "Then", "Then its value must be {operator:ANY} than {number:d}", "Then its value must be (?P<operator>.+) than (?P<number>[-+ ]?\\d+|[-+ ]?0[xX][0-9a-fA-F]+|[-+ ]?0[bB][01]+|[-+ ]?0[oO][0-7]+)", F_EXPECT, 0, "operator:ANY,number:d", 2},
    {87, "Then", "Then all of its values {condition:ANY} match the \"{search_regex}\" regex", "Then all of its values (?P<condition>.+) match the \"(?P<search_regex>.+?)\" regex", F_VALUE_MATCH, 0, "condition:ANY,search_regex:RAW", 0},
    {88, "Then", "Then its value {condition:ANY} match the \"{search_regex}\" regex", "Then its value (?P<condition>.+) match the \"(?P<search_regex>.+?)\" regex", F_VALUE_MATCH, 0, "condition:ANY,search_regex:RAW", 40},
    {89, "Then", "Then its singular value {condition:ANY} match the \"{search_regex}\" regex", "Then its singular value (?P<condition>.+) match the \"(?P<search_regex>.+?)\" regex", F_SINGULAR_MATCH, 0, "condition:ANY,search_regex:RAW", 2},
    {90, "Then", "Then any of its values {condition:ANY} match the \"{search_regex}\" regex", "Then any of its values (?P<condition>.+) match the \"(?P<search_regex>.+?)\" regex", F_ANY_MATCH, 0, "condition:ANY,search_regex:RAW", 2},
    {91, "Then", "Then its value {condition:ANY} be null", "Then its value (?P<condition>.+) be null", F_NULL, 0, "condition:ANY", 11},
    {92, "Then", "Then its value {condition:ANY} be {match:ANY}", "Then its value (?P<condition>.+) be (?P<match>.+)", F_EQUAL, 0, "condition:ANY,match:ANY", 23},
    {93, "Then", "Then its value {condition:ANY} contain {value:ANY}", "Then its value (?P<condition>.+) contain (?P<value>.+)", F_VALUE_CONTAIN, 0, "condition:ANY,value:ANY", 8},
    {94, "Then", "Then it must fail", "Then it must fail", F_FAIL, 0, "", 27},
    {95, "Then", "Then it should fail", "Then it should fail", F_FAIL, 0, "", 0},
    {96, "Then", "Then it fails", "Then it fails", F_FAIL, 0, "", 0},
    {97, "Then", "Then the scenario must fail", "Then the scenario must fail", F_FAIL, 0, "", 0},
    {98, "Then", "Then the scenario should fail", "Then the scenario should fail", F_FAIL, 0, "", 4},
    {99, "Then", "Then the scenario fails", "Then the scenario fails", F_FAIL, 0, "", 0},
    {100, "Then", "Then its {key:ANY} key {condition:ANY} be {value:ANY}", "Then its (?P<key>.+) key (?P<condition>.+) be (?P<value>.+)", F_KEY_CONDITION, 0, "key:ANY,condition:ANY,value:ANY", 0},
    {101, "Then", "Then its {key:ANY} property {condition:ANY} be {value:ANY}", "Then its (?P<key>.+) property (?P<condition>.+) be (?P<value>.+)", F_KEY_CONDITION, 0, "key:ANY,condition:ANY,value:ANY", 1},
    {102, "Then", "Then its {key:ANY} {condition:ANY} be {value:ANY}", "Then its (?P<key>.+) (?P<condition>.+) be (?P<value>.+)", F_KEY_CONDITION, 0, "key:ANY,condition:ANY,value:ANY", 26},
    {103, "Then", "Then I flatten all values found", "Then I flatten all values found", F_FLATTEN, 0, "", 4},
    {104, "Then", "Then it must be in {haystack:ANY}", "Then it must be in (?P<haystack>.+)", F_IN, 0, "haystack:ANY", 7},
    {105, "Then", "Then it must be a subset of {haystack:ANY}", "Then it must be a subset of (?P<haystack>.+)", F_IN, 0, "haystack:ANY", 3},
    {106, "Then", "Then it must cover {haystack:ANY}", "Then it must cover (?P<haystack>.+)", F_IN, V_COVER, "haystack:ANY", 4},
    {107, "Then", "Then it must be a superset of {haystack:ANY}", "Then it must be a superset of (?P<haystack>.+)", F_IN, V_COVER, "haystack:ANY", 3},
    {108, "Then", "Then it must not be in {haystack:ANY}", "Then it must not be in (?P<haystack>.+)", F_NOT_IN, 0, "haystack:ANY", 2},
    {109, "Then", "Then it must not be a subset of {haystack:ANY}", "Then it must not be a subset of (?P<haystack>.+)", F_NOT_IN, 0, "haystack:ANY", 2},
    {110, "Then", "Then it must not cover {haystack:ANY}", "Then it must not cover (?P<haystack>.+)", F_NOT_IN, V_COVER, "haystack:ANY", 2},
    {111, "Then", "Then it must not be a superset of {haystack:ANY}", "Then it must not be a superset of (?P<haystack>.+)", F_NOT_IN, V_COVER, "haystack:ANY", 2},
};
/* clang-format on */
const size_t mi_step_ndefs = sizeof(mi_step_defs) / sizeof(mi_step_defs[0]);

#define NDEFS (sizeof(mi_step_defs) / sizeof(mi_step_defs[0]))

struct field_spec {
    char name[24];
    char type[24];
    int group;
};

static mi_regex *compiled[NDEFS];
static struct field_spec specs[NDEFS][MI_STEP_MAX_FIELDS];
static int nspecs[NDEFS];
static int compile_failed;
static pthread_once_t compile_once = PTHREAD_ONCE_INIT;

static void copy_part(char *dst, const char *src, size_t n)
{
    if (n > 23)
        n = 23;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void compile_all(void)
{
    for (size_t i = 0; i < NDEFS; i++) {
        const char *rx = mi_step_defs[i].regex;
        if (mi_regex_compile(&compiled[i], rx, strlen(rx), MI_RE_IGNORECASE | MI_RE_DOTALL) < 0) {
            compile_failed = 1;
            continue;
        }
        const char *spec = mi_step_defs[i].fields;
        while (*spec && nspecs[i] < MI_STEP_MAX_FIELDS) {
            const char *colon = strchr(spec, ':');
            const char *comma = strchr(spec, ',');
            if (!comma)
                comma = spec + strlen(spec);
            struct field_spec *f = &specs[i][nspecs[i]++];
            copy_part(f->name, spec, (size_t)(colon - spec));
            copy_part(f->type, colon + 1, (size_t)(comma - colon - 1));
            f->group = mi_regex_group_index(compiled[i], f->name);
            spec = *comma ? comma + 1 : comma;
        }
    }
}

char *mi_steps_strip_quotes(const char *s)
{
    size_t n = strlen(s);
    char *o = mi_xmalloc(n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '"' && s[i] != '\'')
            o[j++] = s[i];
    o[j] = '\0';
    return o;
}

char *mi_steps_context_sentence(const char *sentence, const char *ctx_keyword)
{
    /* radish: str_lreplace("and ", Context + " ", sentence, flags=IGNORECASE) */
    if (ctx_keyword && *ctx_keyword && strlen(sentence) >= 4 &&
        (sentence[0] == 'a' || sentence[0] == 'A') && (sentence[1] == 'n' || sentence[1] == 'N') &&
        (sentence[2] == 'd' || sentence[2] == 'D') && sentence[3] == ' ')
        return mi_xasprintf("%s %s", ctx_keyword, sentence + 4);
    return mi_xstrdup(sentence);
}

static int parse_int_d(const char *raw, long *out)
{
    /* parse's {:d}: optional sign or space, then decimal, 0x, 0b or 0o digits */
    const char *p = raw;
    int neg = 0;
    if (*p == '-' || *p == '+' || *p == ' ') {
        neg = *p == '-';
        p++;
    }
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    } else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
        base = 2;
        p += 2;
    } else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O')) {
        base = 8;
        p += 2;
    }
    char *end = NULL;
    long v = strtol(p, &end, base);
    if (!end || *end || end == p)
        return -1;
    *out = neg ? -v : v;
    return 0;
}

static void convert(struct mi_step_field *f)
{
    const char *t = f->type;
    if (strcmp(t, "ANY") == 0 || strcmp(t, "PROPERTY") == 0 || strcmp(t, "PROPERTY_COMPAT") == 0) {
        f->value = mi_steps_strip_quotes(f->raw);
    } else if (strcmp(t, "SECTION") == 0) {
        static const char *const sections[] = {"resource", "provider", "data", "variable",
                                               "resources", "providers", "datas", "variables"};
        f->value = NULL;
        for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
            if (strcmp(f->raw, sections[i]) == 0)
                f->value = mi_steps_strip_quotes(f->raw);
    } else if (strcmp(t, "d") == 0) {
        f->number = 0;
        parse_int_d(f->raw, &f->number);
        f->value = mi_xstrdup(f->raw);
    } else {
        f->value = mi_xstrdup(f->raw);
    }
}

void mi_step_binding_release(struct mi_step_binding *b)
{
    for (int i = 0; i < b->nfields; i++) {
        free(b->fields[i].raw);
        free(b->fields[i].value);
    }
    free(b->sentence);
    memset(b, 0, sizeof(*b));
}

/* Fills b from a match of definition i. */
static void fill(struct mi_step_binding *b, size_t i, const char *sentence,
                 const mi_regex_span *spans)
{
    b->def = &mi_step_defs[i];
    b->sentence = mi_xstrdup(sentence);
    b->nfields = nspecs[i];
    for (int k = 0; k < nspecs[i]; k++) {
        struct mi_step_field *f = &b->fields[k];
        const struct field_spec *sp = &specs[i][k];
        f->name = sp->name;
        f->type = sp->type;
        int g = sp->group;
        if (g > 0 && spans[g].start >= 0)
            f->raw = mi_xstrndup(sentence + spans[g].start, (size_t)(spans[g].end - spans[g].start));
        else
            f->raw = mi_xstrdup("");
        convert(f);
    }
}

int mi_steps_bind(struct mi_step_binding *out, const char *sentence)
{
    memset(out, 0, sizeof(*out));
    pthread_once(&compile_once, compile_all);
    if (compile_failed)
        return mi_error_set(MI_ERR, "internal error: a step pattern does not compile");
    size_t len = strlen(sentence);
    long best_end = -1;
    size_t best = 0;
    mi_regex_span spans[16], best_spans[16];
    for (size_t i = 0; i < NDEFS; i++) {
        int rc = mi_regex_exec(compiled[i], sentence, len, 0, 0, spans);
        if (rc == MI_REGEX_EBUDGET)
            return mi_error_set(MI_ERR, "step '%s' is too complex to match", sentence);
        if (rc != 1)
            continue;
        /* radish takes the end of the longest group as how far the pattern reached */
        long end = spans[0].end;
        int ng = mi_regex_groups(compiled[i]);
        for (int g = 1; g <= ng && g < 16; g++)
            if (spans[g].end > end)
                end = spans[g].end;
        if ((size_t)end == len) {
            fill(out, i, sentence, spans);
            out->perfect = 1;
            return 0;
        }
        if (end > best_end) {
            best_end = end;
            best = i;
            memcpy(best_spans, spans, sizeof(spans));
        }
    }
    if (best_end < 0)
        return mi_error_set(MI_ENOTFOUND, "unknown step '%s'", sentence);
    fill(out, best, sentence, best_spans);
    return 0;
}

const struct mi_step_field *mi_step_field(const struct mi_step_binding *b, const char *name)
{
    for (int i = 0; i < b->nfields; i++)
        if (strcmp(b->fields[i].name, name) == 0)
            return &b->fields[i];
    return NULL;
}

const char *mi_step_arg(const struct mi_step_binding *b, const char *name)
{
    const struct mi_step_field *f = mi_step_field(b, name);
    return f ? f->value : NULL;
}
