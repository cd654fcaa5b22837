/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * devlink and generic-netlink numbers the library and the sim's devlink
 * use, defined here so the build needs no kernel headers. Values are those
 * of Linux 6.12's include/uapi/linux/devlink.h, genetlink.h and netlink.h
 * (enum positions; uAPI, never renumbered); test_devlink pins them against
 * the build machine's headers where those have them.
 */
#ifndef IOMMUDIRTY_DEVLINK_NL_H
#define IOMMUDIRTY_DEVLINK_NL_H

#define DL_GENL_NAME "devlink"
#define DL_GENL_VERSION 1

/* enum devlink_command */
#define DL_CMD_PORT_GET 5
#define DL_CMD_PORT_SET 6
#define DL_CMD_PORT_NEW 7
#define DL_CMD_ESWITCH_GET 29

/* enum devlink_attr */
#define DL_ATTR_BUS_NAME 1            /* string */
#define DL_ATTR_DEV_NAME 2            /* string */
#define DL_ATTR_PORT_INDEX 3          /* u32 */
#define DL_ATTR_PORT_TYPE 4           /* u16 */
#define DL_ATTR_ESWITCH_MODE 25       /* u16 */
#define DL_ATTR_PORT_FLAVOUR 77       /* u16 */
#define DL_ATTR_PORT_NUMBER 78        /* u32 */
#define DL_ATTR_PORT_PCI_PF_NUMBER 127 /* u16 */
#define DL_ATTR_PORT_PCI_VF_NUMBER 128 /* u16 */
#define DL_ATTR_PORT_FUNCTION 145     /* nested */
#define DL_ATTR_PORT_SPLITTABLE 148   /* u8 */
#define DL_ATTR_PORT_EXTERNAL 149     /* u8 */
#define DL_ATTR_PORT_CONTROLLER_NUMBER 150 /* u32 */

/* inside DL_ATTR_PORT_FUNCTION */
#define DL_PORT_FN_ATTR_CAPS 4        /* struct nla_bitfield32 */
#define DL_PORT_FN_CAP_MIGRATABLE (1u << 1)

/* enum devlink_port_flavour */
#define DL_PORT_FLAVOUR_PHYSICAL 0
#define DL_PORT_FLAVOUR_PCI_PF 3
#define DL_PORT_FLAVOUR_PCI_VF 4

/* enum devlink_eswitch_mode */
#define DL_ESWITCH_MODE_LEGACY 0
#define DL_ESWITCH_MODE_SWITCHDEV 1

/* generic netlink's controller (linux/genetlink.h) */
#define DL_GENL_ID_CTRL 0x10          /* NLMSG_MIN_TYPE */
#define DL_CTRL_CMD_NEWFAMILY 1
#define DL_CTRL_CMD_GETFAMILY 3
#define DL_CTRL_ATTR_FAMILY_ID 1      /* u16 */
#define DL_CTRL_ATTR_FAMILY_NAME 2    /* string */
#define DL_CTRL_ATTR_VERSION 3        /* u32 */
#define DL_CTRL_ATTR_HDRSIZE 4        /* u32 */
#define DL_CTRL_ATTR_MAXATTR 5        /* u32 */

/* netlink errors with extended acks (linux/netlink.h) */
#define DL_NLM_F_CAPPED 0x100
#define DL_NLM_F_ACK_TLVS 0x200
#define DL_NLMSGERR_ATTR_MSG 1        /* string */
#define DL_NLMSGERR_ATTR_OFFS 2       /* u32 */
#define DL_SOL_NETLINK 270
#define DL_NETLINK_EXT_ACK 11

/* The kernel's extack texts for a refused MIGRATABLE (net/devlink/port.c). */
#define DL_MSG_NO_MIGRATABLE_OP "Port doesn't support migratable function attribute"
#define DL_MSG_MIGRATABLE_VF_ONLY "migratable function attribute supported for VFs only"

#endif
