#include <orrery.h>
int main (void) { return 0; }
