#include "al_test.h"

int main(int argc, char **argv)
{
    return al_test_main(argc, argv);
}
