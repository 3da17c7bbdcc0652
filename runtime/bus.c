#include "bus.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"

static const char *const type_names[BT_EV__COUNT] = {
    "BAR", "SIGNAL", "ORDER", "FILL", "PORTFOLIO", "RISK_BREACH", "LOG", "USER"};

const char *bt_event_type_name(bt_event_type t) {
  return (unsigned)t < BT_EV__COUNT ? type_names[t] : "UNKNOWN";
}

int bt_event_type_parse(const char *name) {
  for (int i = 0; i < BT_EV__COUNT; i++)
    if (strcasecmp(name, type_names[i]) == 0) return i;
  return -1;
}

bt_bus *bt_bus_new(void) {
  bt_bus *bus = calloc(1, sizeof *bus);
  if (bus) bus->next_id = 1;
  return bus;
}

void bt_bus_free(bt_bus *bus) { free(bus); }

int bt_bus_subscribe(bt_bus *bus, uint32_t mask, bt_bus_handler fn, void *ud) {
  if (bus->nsubs == (int)(sizeof bus->subs / sizeof bus->subs[0])) return BT_ENOMEM;
  bus->subs[bus->nsubs++] = (struct bt_bus_sub){mask, fn, ud};
  bus->mask |= mask;
  return BT_OK;
}

uint64_t bt_bus_publish(bt_bus *bus, bt_event *ev) {
  ev->event_id = bus->next_id++;
  if (!(bus->mask & BT_EV_MASK(ev->type))) return ev->event_id;
  uint64_t now = bt_now_ns();
  if (!ev->created_at) ev->created_at = now;
  ev->emitted_at = now;
  for (int i = 0; i < bus->nsubs; i++) {
    if (!(bus->subs[i].mask & BT_EV_MASK(ev->type))) continue;
    ev->received_at = bt_now_ns();
    bus->subs[i].fn(bus->subs[i].ud, ev);
  }
  ev->processed_at = bt_now_ns();
  return ev->event_id;
}

uint64_t bt_bus_last_id(const bt_bus *bus) { return bus->next_id - 1; }
