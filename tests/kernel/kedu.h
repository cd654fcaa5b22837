/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The boot-2 program (ktest_boot2.c + ktest_type1.c): QEMU's edu device. */
#ifndef IOMMUDIRTY_TESTS_KEDU_H
#define IOMMUDIRTY_TESTS_KEDU_H

#include <stdbool.h>
#include <stdint.h>

/* edu (hw/misc/edu.c): BAR0 registers, a 4 KiB buffer at device address
 * 0x40000, DMA addresses masked to 28 bits. */
#define EDU_ID 0x00
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_CMD_RUN 1u
#define EDU_CMD_TO_RAM 2u
#define EDU_BUF 0x40000u

/* The failure text of the current test (FAIL lines). */
extern char why[512];
/* The edu VFIO device fd the helpers drive: its cdev, or the device fd of
 * its group (VFIO_GROUP_GET_DEVICE_FD). -1: none. */
extern int devfd;

/* BAR0 and config region offsets, the id register, memory space + bus
 * master on. 0, or -1 with why set. */
int edu_setup(void);
/* One DMA (to_ram: device buffer -> IOVA dst, else IOVA src -> device
 * buffer), polled to completion. 0, or -1 with why set. */
int edu_dma(uint64_t src, uint64_t dst, uint64_t cnt, bool to_ram);

/* ktest_type1.c: the type1 backend with edu (its cdev must be closed). */
void run_type1_tests(const char *bdf);

#endif
