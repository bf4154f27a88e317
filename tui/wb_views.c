/* wb_views: every view by id, in WB_VIEWS order. */
#include "tui/wb.h"

#define WB_VIEW_ROW(ID, name) [WB_VIEW_##ID] = &wb_view_##name,
const wb_view_ops *const wb_views[WB_NVIEWS] = {WB_VIEWS(WB_VIEW_ROW)};
