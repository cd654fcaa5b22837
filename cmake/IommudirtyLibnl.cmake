# libnl-genl-3 for devlink's `migratable` (src/devlink.c, src/sim/devlink.c).
# IOMMUDIRTY_LIBNL: AUTO (use it when pkg-config finds it), ON (required),
# OFF (never). Without it the library builds and its devlink calls answer
# IOMMUDIRTY_REASON_DEVLINK_NO_LIBNL. Included after the library targets.
set(IOMMUDIRTY_LIBNL AUTO CACHE STRING "Use libnl-genl-3 for devlink (AUTO, ON, OFF)")
set_property(CACHE IOMMUDIRTY_LIBNL PROPERTY STRINGS AUTO ON OFF)
string(TOUPPER "${IOMMUDIRTY_LIBNL}" _libnl_mode)
if(NOT _libnl_mode MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "IOMMUDIRTY_LIBNL must be AUTO, ON or OFF, not ${IOMMUDIRTY_LIBNL}")
endif()

set(IOMMUDIRTY_HAVE_LIBNL OFF)
if(NOT _libnl_mode STREQUAL "OFF")
  find_package(PkgConfig)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(LIBNL IMPORTED_TARGET libnl-genl-3.0)
  endif()
  if(LIBNL_FOUND)
    set(IOMMUDIRTY_HAVE_LIBNL ON)
  elseif(_libnl_mode STREQUAL "ON")
    message(FATAL_ERROR "IOMMUDIRTY_LIBNL=ON but pkg-config finds no libnl-genl-3.0 "
                        "(Debian: apt-get install libnl-genl-3-dev pkg-config)")
  endif()
endif()

target_sources(iommudirty_obj PRIVATE ${PROJECT_SOURCE_DIR}/src/devlink.c)
if(NOT DEFINED IOMMUDIRTY_SIM OR IOMMUDIRTY_SIM)
  target_sources(iommudirty_obj PRIVATE ${PROJECT_SOURCE_DIR}/src/sim/devlink.c)
endif()

if(IOMMUDIRTY_HAVE_LIBNL)
  message(STATUS "devlink: libnl-genl-3.0 ${LIBNL_VERSION}")
  target_compile_definitions(iommudirty_obj PUBLIC IOMMUDIRTY_HAVE_LIBNL=1)
  target_link_libraries(iommudirty_obj PUBLIC PkgConfig::LIBNL)
  # The object library's usage does not reach libraries built from its
  # objects: link them here.
  foreach(_t iommudirty iommudirty_static)
    if(TARGET ${_t})
      get_target_property(_type ${_t} TYPE)
      if(_type STREQUAL "SHARED_LIBRARY")
        target_link_libraries(${_t} PRIVATE PkgConfig::LIBNL)
      else()
        # Installed: plain library names, as consumers have no
        # PkgConfig::LIBNL target.
        target_link_libraries(${_t} PUBLIC $<BUILD_INTERFACE:PkgConfig::LIBNL>
                              $<INSTALL_INTERFACE:${LIBNL_LIBRARIES}>)
      endif()
    endif()
  endforeach()
  set(IOMMUDIRTY_PC_REQUIRES_PRIVATE "libnl-genl-3.0")
else()
  message(STATUS "devlink: without libnl (IOMMUDIRTY_LIBNL=${IOMMUDIRTY_LIBNL}): "
                 "devlink calls answer IOMMUDIRTY_REASON_DEVLINK_NO_LIBNL")
  set(IOMMUDIRTY_PC_REQUIRES_PRIVATE "")
endif()
