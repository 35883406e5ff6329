# `cmake --install build [--prefix P]`: the programs, the strategy API
# headers (P/include/backtester), libbacktester.so and backtester.pc, so a
# strategy builds out of tree with `pkg-config --cflags backtester`
# (`bt strategy new` writes such a Makefile). The symbols a plug-in calls
# (bt_signal, bt_order, bt_cancel, bt_ind_*) come from the program loading it.
include(GNUInstallDirs)
install(TARGETS bt bt-worker RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS backtester LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
# the embedded Python (strategies/bt_pystrat.c finds it from bin/ through BT_PYMOD_INSTALLED)
install(TARGETS bt_python LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/backtester)
install(FILES
  ${CMAKE_SOURCE_DIR}/common/engine/bt_strategy.h
  ${CMAKE_SOURCE_DIR}/common/engine/bt_ind.h
  ${CMAKE_SOURCE_DIR}/common/base/bt_err.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/backtester)
# relocatable: the prefix is found from the .pc file's own folder (--prefix at install time)
file(RELATIVE_PATH BT_PC_UP /x/${CMAKE_INSTALL_LIBDIR}/pkgconfig /x)
configure_file(${CMAKE_SOURCE_DIR}/cmake/backtester.pc.in ${CMAKE_BINARY_DIR}/backtester.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/backtester.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
