/* Uses the installed library: header, pkg-config / CMake package, the .so. */
#include <iommudirty.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	struct iommudirty_sim *sim = iommudirty_sim_new(NULL);
	uint64_t bm[1] = { 0x5 };

	if (!sim || !IOMMUDIRTY_CHECK_VERSION(0, 2))
		return 1;
	iommudirty_sim_free(sim);
	if (iommudirty_bitmap_count(bm, 64) != 2)
		return 1;
	printf("consumer: libiommudirty %s\n", iommudirty_version());
	return strcmp(iommudirty_version(), "0.2.0") != 0;
}
