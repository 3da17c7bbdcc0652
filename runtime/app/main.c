#include "cli.h"

int main(int argc, char **argv) { return bt_cli_main(argc, argv); }
